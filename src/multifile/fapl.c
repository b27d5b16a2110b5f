/*
 * multifile/fapl.c -- the multifile driver's configuration: defaults,
 * validation, registration with HDF5, H5Pset_fapl_multifile(_mpi), and the
 * dataset-creation rules (h5tier_multifile_dcpl_check/_init/_dcreate).
 */
#include <pthread.h>
#include <string.h>

#ifdef H5TIER_HAVE_MPI
#include <mpi.h> /* first: h5tier_multifile.h declares H5Pset_fapl_multifile_mpi after it */
#endif

#include "multifile/mf_driver.h"

static hid_t mf_driver = H5I_INVALID_HID;
static pthread_mutex_t mf_driver_lock = PTHREAD_MUTEX_INITIALIZER;

void h5tier_multifile_config_init(h5tier_multifile_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->version = H5TIER_MULTIFILE_CONFIG_VERSION;
    cfg->rank = -1;
    cfg->nranks = -1;
    cfg->mode = 0600;
}

int h5tier__mf_config_check(const h5tier_multifile_config_t *cfg, h5tier_multifile_config_t *out)
{
    if (!cfg) {
        h5tier_multifile_config_init(out);
        return 0;
    }
    if (cfg->version != H5TIER_MULTIFILE_CONFIG_VERSION)
        return h5tier__fail(EINVAL, "multifile config: version %u is not supported (want %u)", cfg->version,
                            H5TIER_MULTIFILE_CONFIG_VERSION);
    *out = *cfg;
    if ((out->rank < 0) != (out->nranks < 0))
        return h5tier__fail(EINVAL, "multifile config: rank %d and nranks %d: set both or neither", out->rank,
                            out->nranks);
    if (out->rank >= 0 && (out->nranks < 1 || out->nranks > H5TIER_MULTIFILE_MAX_RANKS || out->rank >= out->nranks))
        return h5tier__fail(EINVAL, "multifile config: rank %d of %d is out of range (nranks 1..%d)", out->rank,
                            out->nranks, H5TIER_MULTIFILE_MAX_RANKS);
    if (out->flags & ~(H5TIER_MULTIFILE_NO_SYNC | H5TIER_MULTIFILE_ALLOW_INCOMPLETE | H5TIER_MULTIFILE_VERIFY))
        return h5tier__fail(EINVAL, "multifile config: unknown flags 0x%x", out->flags);
    if (out->mode == 0)
        out->mode = 0600;
    if (out->mode & ~(mode_t)0777)
        return h5tier__fail(EINVAL, "multifile config: mode %o has bits beyond 0777", (unsigned)out->mode);
    return 0;
}

hid_t h5tier_multifile_driver_id(void)
{
    pthread_mutex_lock(&mf_driver_lock);
    if (mf_driver < 0 || H5Iget_type(mf_driver) != H5I_VFL)
        mf_driver = H5FDregister(h5tier__mf_class());
    hid_t id = mf_driver;
    pthread_mutex_unlock(&mf_driver_lock);
    return id;
}

static herr_t set_fapl(hid_t fapl_id, const h5tier_multifile_config_t *c)
{
    hid_t id = h5tier_multifile_driver_id();
    if (id < 0) {
        H5TIER_PUSH(H5TIER_AREA_MULTIFILE, H5TIER_EHDF5, "multifile driver: cannot register with HDF5");
        return -1;
    }
    int mdc = 0;
    size_t slots = 0, nbytes = 0;
    double w0 = 0.75;
    /* rule 3: no raw-data chunk cache, so partial-chunk writes send only the selection */
    if (H5Pget_cache(fapl_id, &mdc, &slots, &nbytes, &w0) < 0 || H5Pset_cache(fapl_id, mdc, slots, 0, w0) < 0 ||
        H5Pset_driver(fapl_id, id, c) < 0) {
        H5TIER_PUSH(H5TIER_AREA_MULTIFILE, H5TIER_EHDF5,
                    "multifile driver: H5Pset_cache/H5Pset_driver failed (not a file access list?)");
        return -1;
    }
    return 0;
}

herr_t H5Pset_fapl_multifile(hid_t fapl_id, const h5tier_multifile_config_t *cfg)
{
    h5tier_multifile_config_t c;
    int rc = h5tier__mf_config_check(cfg, &c);
    if (rc < 0) {
        h5tier__mf_push_last(rc);
        return -1;
    }
    c.has_comm = 0;
    memset(c.comm, 0, sizeof c.comm);
    return set_fapl(fapl_id, &c);
}

#ifdef H5TIER_HAVE_MPI
_Static_assert(sizeof(MPI_Comm) <= sizeof(((h5tier_multifile_config_t *)0)->comm), "MPI_Comm fits the config");
herr_t H5Pset_fapl_multifile_mpi(hid_t fapl_id, MPI_Comm comm, const h5tier_multifile_config_t *cfg)
{
    h5tier_multifile_config_t c;
    int rc = h5tier__mf_config_check(cfg, &c);
    if (rc < 0) {
        h5tier__mf_push_last(rc);
        return -1;
    }
    memset(c.comm, 0, sizeof c.comm);
    memcpy(c.comm, &comm, sizeof comm);
    c.has_comm = 1;
    c.rank = c.nranks = -1;
    return set_fapl(fapl_id, &c);
}
#endif

herr_t H5Pget_fapl_multifile(hid_t fapl_id, h5tier_multifile_config_t *cfg)
{
    hid_t id = h5tier_multifile_driver_id();
    if (id < 0 || H5Pget_driver(fapl_id) != id) {
        H5TIER_PUSH(H5TIER_AREA_MULTIFILE, EINVAL, "multifile driver: file access list does not use it");
        return -1;
    }
    const h5tier_multifile_config_t *c = H5Pget_driver_info(fapl_id);
    if (!c) {
        H5TIER_PUSH(H5TIER_AREA_MULTIFILE, EINVAL, "multifile driver: file access list has no configuration");
        return -1;
    }
    *cfg = *c;
    return 0;
}

/* ---- rule 2: how datasets must be created --------------------------------- */

int h5tier_multifile_dcpl_check(hid_t dcpl)
{
    if (dcpl == H5P_DEFAULT)
        return h5tier__fail(EINVAL, "rule 2: the default dataset creation list allocates late; use a list with "
                                    "H5Pset_alloc_time(H5D_ALLOC_TIME_EARLY) and H5Pset_fill_time(H5D_FILL_TIME_NEVER)");
    H5D_layout_t layout = H5Pget_layout(dcpl);
    if (layout < 0)
        return h5tier__fail(H5TIER_EHDF5, "multifile: cannot read the dataset creation list");
    if (layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED)
        return h5tier__fail(EINVAL, "rule 2: %s layout is not allowed (its data lives in per-rank metadata); "
                                    "use contiguous or chunked", layout == H5D_COMPACT ? "compact" : "virtual");
    int nf = H5Pget_nfilters(dcpl);
    if (nf < 0)
        return h5tier__fail(H5TIER_EHDF5, "multifile: cannot read the filter pipeline");
    if (nf > 0)
        return h5tier__fail(EINVAL, "rule 2: filters are not allowed (%d in the pipeline): each rank's compressed "
                                    "chunk sizes would differ and so would the metadata", nf);
    if (H5Pget_external_count(dcpl) > 0)
        return h5tier__fail(EINVAL, "rule 2: external storage is not allowed");
    H5D_alloc_time_t at;
    if (H5Pget_alloc_time(dcpl, &at) < 0)
        return h5tier__fail(H5TIER_EHDF5, "multifile: cannot read the allocation time");
    if (at != H5D_ALLOC_TIME_EARLY)
        return h5tier__fail(EINVAL, "rule 2: allocation time must be H5D_ALLOC_TIME_EARLY (space allocated at "
                                    "creation, identically on every rank)");
    H5D_fill_time_t ft;
    if (H5Pget_fill_time(dcpl, &ft) < 0)
        return h5tier__fail(H5TIER_EHDF5, "multifile: cannot read the fill time");
    if (ft != H5D_FILL_TIME_NEVER)
        return h5tier__fail(EINVAL, "rule 2: fill time must be H5D_FILL_TIME_NEVER (a fill at allocation would "
                                    "write every rank's part from every rank)");
    hbool_t track = 0;
    if (H5Pget_obj_track_times(dcpl, &track) < 0)
        return h5tier__fail(H5TIER_EHDF5, "multifile: cannot read the time tracking setting");
    if (track)
        return h5tier__fail(EINVAL, "rule 2: object times must not be tracked (H5Pset_obj_track_times(dcpl, 0)): "
                                    "each rank would store its own clock in the dataset's header");
    return 0;
}

int h5tier_multifile_dcpl_init(hid_t dcpl)
{
    if (H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0 || H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0)
        return h5tier__fail(H5TIER_EHDF5, "multifile: cannot set allocation/fill time or time tracking on the "
                                          "creation list");
    return 0;
}

hid_t h5tier_multifile_dcreate(hid_t loc_id, const char *name, hid_t type_id, hid_t space_id, hid_t lcpl_id,
                               hid_t dcpl_id, hid_t dapl_id)
{
    int rc = h5tier_multifile_dcpl_check(dcpl_id);
    if (rc < 0) {
        char why[1024];
        snprintf(why, sizeof why, "%s", h5tier_errmsg());
        H5TIER_PUSH(H5TIER_AREA_MULTIFILE, -rc, "multifile: dataset '%s' not created: %s", name ? name : "", why);
        return H5I_INVALID_HID;
    }
    return H5Dcreate2(loc_id, name, type_id, space_id, lcpl_id, dcpl_id, dapl_id);
}
