/*
 * IVdsVdProvider::CreateVDisk's job (async type 200): the engine creates the
 * file on the worker; on success the provider's VDisk for the new path is
 * the output, cvd.pVDiskUnk, AddRef'd for each Wait that returns it.
 *
 * "If the virtual disk already exists, the virtual disk provider returns an
 * interface pointer to the existing virtual disk object without re-creating
 * the file" (SDK nf-vds-ivdsvdprovider-createvdisk.md, Remarks) [V]: a file
 * that opens as a virtual disk of the requested type is left as it is and
 * its VDisk is the output. A file that is not one (or of the other format)
 * is not a virtual disk that exists: the task fails with the open's code and
 * the file is untouched [U].
 */
#include <stdlib.h>
#include <string.h>

#include "provider_private.h"

struct create_job
{
    struct async_job job;
    IVdsVdProvider *provider;
    VIRTUAL_STORAGE_TYPE type;
    WCHAR *path;
    char *path_utf8, *parent_utf8;
    struct vdsshim_create_params params;
    GUID unique_id;
    IVdsVDisk *vdisk;           /* the result */
};

static HRESULT create_run(struct async_job *job, int (*progress)(void *, unsigned), void *ctx)
{
    struct create_job *cj = CONTAINING_RECORD(job, struct create_job, job);
    struct vdsshim_diag diag = { .msg = { 0 } };
    int st;

    /* Creation is a handful of writes (a fixed disk only sets the file size):
     * nothing to report between 0 and done, and nothing to cancel midway. */
    progress(ctx, 0);
    st = vdsshim_create(cj->path_utf8, &cj->params, &diag);
    if (st == VDSSHIM_E_EXISTS)
    {
        struct vdsshim_info info;

        TRACE("%s exists: not re-created\n", debugstr_w(cj->path));
        memset(&diag, 0, sizeof(diag));
        if ((st = vdisk_peek(cj->path_utf8, &info, &diag)))
        {
            WARN("%s exists and is not a virtual disk: %s\n", debugstr_w(cj->path), diag.msg);
            return hr_from_status(st, &diag);
        }
        if (!vdisk_type_matches(&cj->type, info.format)) return VDSSHIM_ERROR_VHD_FORMAT_UNKNOWN;
    }
    else if (st)
    {
        WARN("create %s: %s: %s\n", debugstr_w(cj->path), vdsshim_status_name(st), diag.msg);
        return hr_from_status(st, &diag);
    }
    return vd_provider_vdisk(cj->provider, &cj->type, cj->path, &cj->vdisk);
}

static void create_output(struct async_job *job, VDS_ASYNC_OUTPUT *out)
{
    struct create_job *cj = CONTAINING_RECORD(job, struct create_job, job);

    out->cvd.pVDiskUnk = (IUnknown *)cj->vdisk;
    IUnknown_AddRef(out->cvd.pVDiskUnk);
}

static void create_destroy(struct async_job *job)
{
    struct create_job *cj = CONTAINING_RECORD(job, struct create_job, job);

    if (cj->vdisk) IVdsVDisk_Release(cj->vdisk);
    IVdsVdProvider_Release(cj->provider);
    free(cj->path);
    free(cj->path_utf8);
    free(cj->parent_utf8);
    free(cj);
}

HRESULT create_vdisk_start(IVdsVdProvider *provider, const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path, BOOL fixed,
                           const VDS_CREATE_VDISK_PARAMETERS *params, IVdsAsync **async)
{
    static const GUID no_id;
    struct create_job *cj;
    HRESULT hr;

    if (!(cj = calloc(1, sizeof(*cj)))) return E_OUTOFMEMORY;
    cj->job.run = create_run;
    cj->job.destroy = create_destroy;
    cj->job.output = create_output;
    cj->provider = provider;
    IVdsVdProvider_AddRef(provider);
    cj->type = *type;
    cj->params.format = type->DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_VHDX ? VDSSHIM_FORMAT_VHDX : VDSSHIM_FORMAT_VHD;
    cj->params.type = params->pParentPath ? VDSSHIM_DISK_DIFFERENCING : fixed ? VDSSHIM_DISK_FIXED : VDSSHIM_DISK_DYNAMIC;
    cj->params.virtual_size = params->MaximumSize;
    cj->params.block_size = params->BlockSizeInBytes;
    cj->params.logical_sector_size = params->SectorSizeInBytes;
    /* A zero UniqueId asks for a new one. */
    if (memcmp(&params->UniqueId, &no_id, sizeof(no_id)))
    {
        cj->unique_id = params->UniqueId;
        cj->params.unique_id = (const uint8_t *)&cj->unique_id;
    }
    if (!(cj->path = malloc((wcslen(path) + 1) * sizeof(WCHAR))) || !(cj->path_utf8 = utf8_from_wide(path))
        || (params->pParentPath && !(cj->parent_utf8 = utf8_from_wide(params->pParentPath))))
    {
        create_destroy(&cj->job);
        return E_OUTOFMEMORY;
    }
    wcscpy(cj->path, path);
    cj->params.parent_path = cj->parent_utf8;
    if (FAILED(hr = async_create(vd_provider_client(provider), VDS_ASYNCOUT_CREATE_VDISK, &cj->job, async)))
        create_destroy(&cj->job);
    return hr;
}
