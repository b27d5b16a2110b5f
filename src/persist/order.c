/*
 * persist/order.c -- creation order: read whether a source object tracks
 * (and indexes) the creation order of its links and attributes, and give a
 * destination creation property list the same flags, so that links and
 * attributes created in the source's order read back in that order.
 */
#include "persist/persist_internal.h"

/* The creation property list of an open file (its root group), group,
 * dataset or committed datatype; close it.  A reopened file's own fcpl does
 * not carry its root group's flags, so the root group is asked. */
static hid_t create_plist(hid_t obj)
{
    hid_t pl = H5I_INVALID_HID, g;
    switch (H5Iget_type(obj)) {
    case H5I_FILE:
        if ((g = H5Gopen2(obj, "/", H5P_DEFAULT)) >= 0) {
            pl = H5Gget_create_plist(g);
            H5Gclose(g);
        }
        break;
    case H5I_GROUP: pl = H5Gget_create_plist(obj); break;
    case H5I_DATASET: pl = H5Dget_create_plist(obj); break;
    case H5I_DATATYPE: pl = H5Tget_create_plist(obj); break;
    default: break;
    }
    return pl;
}

int h5tier__persist_order_get(hid_t obj, unsigned *links, unsigned *attrs)
{
    *links = *attrs = 0;
    hid_t pl = create_plist(obj);
    int rc = 0;
    if (pl < 0)
        return h5tier__fail(H5TIER_EHDF5, "persist: cannot read an object's creation properties");
    if (H5Pget_attr_creation_order(pl, attrs) < 0 ||
        (H5Pisa_class(pl, H5P_GROUP_CREATE) > 0 && H5Pget_link_creation_order(pl, links) < 0))
        rc = h5tier__fail(H5TIER_EHDF5, "persist: cannot read an object's creation order flags");
    H5Pclose(pl);
    return rc;
}

int h5tier__persist_order_copy(hid_t sobj, hid_t dplist)
{
    unsigned links, attrs;
    int rc = h5tier__persist_order_get(sobj, &links, &attrs);
    if (rc < 0)
        return rc;
    /* untouched when nothing is tracked: the output stays byte for byte as before */
    if (attrs && H5Pset_attr_creation_order(dplist, attrs) < 0)
        return h5tier__fail(H5TIER_EHDF5, "persist: cannot set attribute creation order");
    if (links && H5Pisa_class(dplist, H5P_GROUP_CREATE) > 0 && H5Pset_link_creation_order(dplist, links) < 0)
        return h5tier__fail(H5TIER_EHDF5, "persist: cannot set link creation order");
    return (links | attrs) ? 1 : 0;
}
