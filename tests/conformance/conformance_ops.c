/*
 * Conformance of the rest of the virtual-disk methods: CreateVDisk (async
 * 200 and its cvd.pVDiskUnk), Expand (204), Merge (203) with the
 * ReadWriteDepth rule, DetachAndDelete, and the answers while another
 * operation runs. Exact HRESULTs, sentinels in out-parameters. run.sh checks
 * the files afterwards with qemu-img.
 */
#include "conformance.h"

static HRESULT wait_task(IVdsAsync *async, VDS_ASYNC_OUTPUT *out)
{
    HRESULT task = 0x55;

    memset(out, 0x55, sizeof(*out));
    ok_hr(IVdsAsync_Wait(async, &task, out), S_OK, "Wait");
    return task;
}

static HRESULT create(IVdsVdProvider *prov, const WCHAR *name, ULONG device, CREATE_VIRTUAL_DISK_FLAG flags,
                      ULONGLONG size, const WCHAR *parent, IVdsVDisk **vdisk)
{
    VIRTUAL_STORAGE_TYPE type = { device, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    VDS_CREATE_VDISK_PARAMETERS params;
    WCHAR path[MAX_PATH], parent_path[MAX_PATH];
    IVdsAsync *async = NULL;     /* [in, out]: the proxy marshals what it points at */
    VDS_ASYNC_OUTPUT out;
    HRESULT hr, task;

    *vdisk = NULL;
    path_of(name, path);
    memset(&params, 0, sizeof(params));
    params.MaximumSize = size;
    if (parent)
    {
        path_of(parent, parent_path);
        params.pParentPath = parent_path;
    }
    hr = IVdsVdProvider_CreateVDisk(prov, &type, path, (WCHAR *)L"", flags, 0, 0, &params, &async);
    ok_hr(hr, S_OK, "CreateVDisk");
    if (FAILED(hr)) return hr;
    task = wait_task(async, &out);
    if (SUCCEEDED(task))
    {
        ok(out.type == VDS_ASYNCOUT_CREATE_VDISK, "VDS_ASYNC_OUTPUT.type %d is 200", out.type);
        ok(out.cvd.pVDiskUnk != NULL, "cvd.pVDiskUnk is set");
        if (out.cvd.pVDiskUnk)
        {
            ok_hr(IUnknown_QueryInterface(out.cvd.pVDiskUnk, &IID_IVdsVDisk, (void **)vdisk), S_OK,
                  "cvd.pVDiskUnk is an IVdsVDisk");
            IUnknown_Release(out.cvd.pVDiskUnk);
        }
    }
    IVdsAsync_Release(async);
    return task;
}

void test_create_vdisk(IVdsVdProvider *prov)
{
    VIRTUAL_STORAGE_TYPE vhdx = { VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    VIRTUAL_STORAGE_TYPE unknown = { VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    VDS_CREATE_VDISK_PARAMETERS params;
    VDS_VDISK_PROPERTIES props;
    IVdsVDisk *vdisk, *again;
    IVdsAsync *async = NULL;
    WCHAR path[MAX_PATH];
    HRESULT task;

    memset(&params, 0, sizeof(params));
    params.MaximumSize = 64 << 20;
    path_of(L"created.vhdx", path);
    ok_null_out(IVdsVdProvider_CreateVDisk(prov, NULL, path, (WCHAR *)L"", 0, 0, 0, &params, &async), "CreateVDisk(NULL type)");
    ok_null_out(IVdsVdProvider_CreateVDisk(prov, &vhdx, path, (WCHAR *)L"", 0, 0, 0, NULL, &async), "CreateVDisk(NULL parameters)");
    /* ppAsync is [in, out]: a sentinel can only be passed in process. */
    async = clsctx == CLSCTX_INPROC_SERVER ? (void *)0xdeadbeef : NULL;
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &vhdx, path, NULL, 0, 0, 0, &params, &async), E_POINTER,
          "CreateVDisk(NULL security descriptor): the spec verifies every pointer [U]");
    ok(async == NULL, "a refused CreateVDisk clears ppAsync");
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &vhdx, (WCHAR *)L"relative.vhdx", (WCHAR *)L"", 0, 0, 0, &params, &async),
          VDS_E_VDISK_PATHNAME_INVALID, "CreateVDisk(relative path)");
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &unknown, path, (WCHAR *)L"", 0, 0, 0, &params, &async), E_INVALIDARG,
          "CreateVDisk(device type UNKNOWN)");
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &vhdx, path, (WCHAR *)L"", 2, 0, 0, &params, &async), E_INVALIDARG,
          "CreateVDisk(unknown flag)");
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &vhdx, path, (WCHAR *)L"", 0, 1, 0, &params, &async), E_INVALIDARG,
          "CreateVDisk(provider-specific flag)");
    params.pSourcePath = path;
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &vhdx, path, (WCHAR *)L"", 0, 0, 0, &params, &async), VDS_E_NOT_SUPPORTED,
          "CreateVDisk(pSourcePath)");
    params.pSourcePath = NULL;
    params.pParentPath = path;
    ok_hr(IVdsVdProvider_CreateVDisk(prov, &vhdx, path, (WCHAR *)L"", CREATE_VIRTUAL_DISK_FLAG_FULL_PHYSICAL_ALLOCATION,
                                     0, 0, &params, &async), E_INVALIDARG, "CreateVDisk(fixed child)");
    ok(GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES, "no refused call made a file");

    /* A dynamic VHDX: the output is the provider's VDisk for the path. */
    task = create(prov, L"created.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, 0, 64 << 20, NULL, &vdisk);
    ok_hr(task, S_OK, "the create task");
    if (vdisk)
    {
        memset(&props, 0, sizeof(props));
        ok_hr(IVdsVDisk_GetProperties(vdisk, &props), S_OK, "GetProperties of the new disk");
        ok(props.VirtualSize == 64 << 20 && props.bIsChild == FALSE && props.State == VDS_VST_ADDED,
           "64 MiB, not a child, state ADDED (%llu, %d, %d)", props.VirtualSize, props.bIsChild, props.State);
        ok(props.pPath && !_wcsicmp(props.pPath, path), "its path");
        CoTaskMemFree(props.pPath);
        CoTaskMemFree(props.pParentPath);
        if ((again = add_vdisk(prov, L"created.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX)))
        {
            IUnknown *a, *b;
            IVdsVDisk_QueryInterface(vdisk, &IID_IUnknown, (void **)&a);
            IVdsVDisk_QueryInterface(again, &IID_IUnknown, (void **)&b);
            ok(a == b, "AddVDisk of the new path returns the same object");
            IUnknown_Release(a);
            IUnknown_Release(b);
            IVdsVDisk_Release(again);
        }
        IVdsVDisk_Release(vdisk);
    }

    /* The same path again: the file is not touched, the task says why. */
    {
        ULONGLONG before = file_size(path);
        task = create(prov, L"created.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, 0, 8 << 20, NULL, &vdisk);
        ok_hr(task, ERROR_FILE_EXISTS_HR, "creating over an existing file");
        ok(vdisk == NULL && file_size(path) == before, "the existing file is untouched");
    }

    /* A fixed VHD: its data is all there. */
    task = create(prov, L"created-fixed.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD,
                  CREATE_VIRTUAL_DISK_FLAG_FULL_PHYSICAL_ALLOCATION, 8 << 20, NULL, &vdisk);
    ok_hr(task, S_OK, "creating a fixed VHD");
    path_of(L"created-fixed.vhd", path);
    ok(file_size(path) == (8 << 20) + 512, "a fixed VHD is its data and a footer (%llu bytes)", file_size(path));
    if (vdisk) IVdsVDisk_Release(vdisk);

    /* A child of the new VHDX: its size and parent come from the parent. */
    task = create(prov, L"created-child.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, 0, 0, L"created.vhdx", &vdisk);
    ok_hr(task, S_OK, "creating a differencing VHDX");
    if (vdisk)
    {
        memset(&props, 0, sizeof(props));
        ok_hr(IVdsVDisk_GetProperties(vdisk, &props), S_OK, "GetProperties of the child");
        ok(props.bIsChild == TRUE && props.VirtualSize == 64 << 20, "a child of the parent's size");
        ok(props.pParentPath && wcsstr(props.pParentPath, L"created.vhdx"), "its parent path %ls",
           props.pParentPath ? props.pParentPath : L"(null)");
        CoTaskMemFree(props.pPath);
        CoTaskMemFree(props.pParentPath);
        IVdsVDisk_Release(vdisk);
    }
}

static IVdsOpenVDisk *open_disk(IVdsVdProvider *prov, const WCHAR *name, ULONG device, VIRTUAL_DISK_ACCESS_MASK mask,
                                ULONG rw_depth, IVdsVDisk **vdisk)
{
    IVdsOpenVDisk *open = NULL;

    if (!(*vdisk = add_vdisk(prov, name, device))) return NULL;
    ok_hr(IVdsVDisk_Open(*vdisk, mask, OPEN_VIRTUAL_DISK_FLAG_NONE, rw_depth, &open), S_OK, "Open");
    return open;
}

void test_expand(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    IVdsAsync *async = (void *)0xdeadbeef;
    VDS_VDISK_PROPERTIES props;
    VDS_ASYNC_OUTPUT out;
    HRESULT hr, task;

    if (!(open = open_disk(prov, L"grow.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
        return;
    ok_hr(IVdsOpenVDisk_Expand(open, 1, 256 << 20, &async), E_INVALIDARG, "Expand(flag 1)");
    ok(async == NULL, "a refused Expand clears ppAsync");
    ok_null_out(IVdsOpenVDisk_Expand(open, 0, 256 << 20, NULL), "Expand(NULL ppAsync)");
    ok_hr(IVdsOpenVDisk_Expand(open, 0, 16 << 20, &async), E_INVALIDARG, "Expand to a smaller size");
    hr = IVdsOpenVDisk_Attach(open, NULL, ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY, 0, 0, &async);
    if (SUCCEEDED(hr))
    {
        wait_task(async, &out);
        IVdsAsync_Release(async);
        ok_hr(IVdsOpenVDisk_Expand(open, 0, 256 << 20, &async), VDS_E_VD_IS_ATTACHED, "Expand while attached (<147>)");
        IVdsOpenVDisk_Detach(open, 0, 0);
    }
    hr = IVdsOpenVDisk_Expand(open, 0, 256 << 20, &async);
    ok_hr(hr, S_OK, "Expand to 256 MiB");
    if (SUCCEEDED(hr))
    {
        task = wait_task(async, &out);
        ok_hr(task, S_OK, "the expand task");
        ok(out.type == VDS_ASYNCOUT_EXPAND_VDISK, "VDS_ASYNC_OUTPUT.type %d is 204", out.type);
        IVdsAsync_Release(async);
    }
    memset(&props, 0, sizeof(props));
    ok_hr(IVdsVDisk_GetProperties(vdisk, &props), S_OK, "GetProperties after Expand");
    ok(props.VirtualSize == 256 << 20 && props.State == VDS_VST_OPEN, "256 MiB, state OPEN (%llu, %d)",
       props.VirtualSize, props.State);
    CoTaskMemFree(props.pPath);
    IVdsOpenVDisk_Release(open);
    IVdsVDisk_Release(vdisk);

    /* Without METAOPS; and a fixed disk (the task says why). */
    if ((open = open_disk(prov, L"grow.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_GET_INFO, 1, &vdisk)))
    {
        ok_hr(IVdsOpenVDisk_Expand(open, 0, 512 << 20, &async), E_ACCESSDENIED, "Expand without METAOPS");
        IVdsOpenVDisk_Release(open);
        IVdsVDisk_Release(vdisk);
    }
    if ((open = open_disk(prov, L"fixed.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
    {
        hr = IVdsOpenVDisk_Expand(open, 0, 64 << 20, &async);
        ok_hr(hr, S_OK, "Expand of a fixed disk starts");
        if (SUCCEEDED(hr))
        {
            ok_hr(wait_task(async, &out), ERROR_VHD_INVALID_TYPE_HR, "... and its task fails with ERROR_VHD_INVALID_TYPE");
            IVdsAsync_Release(async);
        }
        IVdsOpenVDisk_Release(open);
        IVdsVDisk_Release(vdisk);
    }
}

void test_merge(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    IVdsAsync *async = (void *)0xdeadbeef;
    VDS_ASYNC_OUTPUT out;
    WCHAR path[MAX_PATH];
    HRESULT hr;

    path_of(L"chain\\child.vhdx", path);
    if (GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES)
    {
        ok(0, "run.sh made chain\\child.vhdx");
        return;
    }
    /* ReadWriteDepth 1 opens only the child read-write: the parent cannot be written. */
    if ((open = open_disk(prov, L"chain\\child.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
    {
        ok_hr(IVdsOpenVDisk_Merge(open, 0, 1, &async), E_INVALIDARG, "Merge(depth 1) with ReadWriteDepth 1");
        ok(async == NULL, "a refused Merge clears ppAsync");
        ok_hr(IVdsOpenVDisk_Merge(open, 0, 0, &async), E_INVALIDARG, "Merge(depth 0)");
        ok_hr(IVdsOpenVDisk_Merge(open, 1, 1, &async), E_INVALIDARG, "Merge(flag 1)");
        ok_null_out(IVdsOpenVDisk_Merge(open, 0, 1, NULL), "Merge(NULL ppAsync)");
        IVdsOpenVDisk_Release(open);
        IVdsVDisk_Release(vdisk);
    }
    /* As the spec's example: ReadWriteDepth 2 for MergeDepth 1. */
    if ((open = open_disk(prov, L"chain\\child.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 2, &vdisk)))
    {
        ok_hr(IVdsOpenVDisk_Merge(open, 0, 2, &async), E_INVALIDARG, "Merge(depth 2) with ReadWriteDepth 2");
        hr = IVdsOpenVDisk_Merge(open, 0, 1, &async);
        ok_hr(hr, S_OK, "Merge(depth 1)");
        if (SUCCEEDED(hr))
        {
            ok_hr(wait_task(async, &out), S_OK, "the merge task");
            ok(out.type == VDS_ASYNCOUT_MERGE_VDISK, "VDS_ASYNC_OUTPUT.type %d is 203", out.type);
            IVdsAsync_Release(async);
        }
        IVdsOpenVDisk_Release(open);
        IVdsVDisk_Release(vdisk);
    }
    /* A disk with no parent: the task says it is the wrong type. */
    if ((open = open_disk(prov, L"chain\\parent.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 2, &vdisk)))
    {
        hr = IVdsOpenVDisk_Merge(open, 0, 1, &async);
        ok_hr(hr, S_OK, "Merge of a disk with no parent starts");
        if (SUCCEEDED(hr))
        {
            ok_hr(wait_task(async, &out), ERROR_VHD_INVALID_TYPE_HR, "... and its task fails with ERROR_VHD_INVALID_TYPE");
            IVdsAsync_Release(async);
        }
        IVdsOpenVDisk_Release(open);
        IVdsVDisk_Release(vdisk);
    }
}

void test_detach_and_delete(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    IVdsAsync *async = (void *)0xdeadbeef;
    VDS_VDISK_PROPERTIES props;
    VDS_ASYNC_OUTPUT out;
    WCHAR path[MAX_PATH];
    HRESULT hr;

    path_of(L"created-fixed.vhd", path);
    /* A handle without METAOPS or DETACH access cannot delete. */
    if ((open = open_disk(prov, L"created-fixed.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD, VIRTUAL_DISK_ACCESS_GET_INFO, 1, &vdisk)))
    {
        ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 0, 0), E_ACCESSDENIED, "DetachAndDelete without METAOPS or DETACH");
        ok(GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES, "... the file is still there");
        IVdsOpenVDisk_Release(open);
        IVdsVDisk_Release(vdisk);
    }
    if (!(open = open_disk(prov, L"created-fixed.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
        return;
    hr = IVdsOpenVDisk_Attach(open, NULL, ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY, 0, 0, &async);
    ok_hr(hr, S_OK, "Attach before DetachAndDelete");
    if (SUCCEEDED(hr))
    {
        wait_task(async, &out);
        IVdsAsync_Release(async);
    }
    ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 1, 0), E_INVALIDARG, "DetachAndDelete(flag 1)");
    ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 0, 1), E_INVALIDARG, "DetachAndDelete(provider flag 1)");
    ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 0, 0), S_OK, "DetachAndDelete");
    ok(GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES, "the backing file is gone");
    memset(&props, 0x55, sizeof(props));
    ok_hr(IVdsVDisk_GetProperties(vdisk, &props), S_OK, "GetProperties of a deleted disk");
    ok(props.State == VDS_VST_DELETED, "state %d is VDS_VST_DELETED", props.State);
    CoTaskMemFree(props.pPath);
    ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 0, 0), VDS_E_OBJECT_DELETED, "DetachAndDelete again");
    ok_hr(IVdsOpenVDisk_Attach(open, NULL, ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY, 0, 0, &async), VDS_E_OBJECT_DELETED,
          "Attach after DetachAndDelete");
    ok_hr(IVdsOpenVDisk_Compact(open, 0, 0, &async), VDS_E_OBJECT_DELETED, "Compact after DetachAndDelete");
    ok_hr(IVdsOpenVDisk_Expand(open, 0, 64 << 20, &async), VDS_E_OBJECT_DELETED, "Expand after DetachAndDelete");
    IVdsOpenVDisk_Release(open);
    IVdsVDisk_Release(vdisk);
}

/* One operation at a time: the others are told which one runs. */
void test_busy_states(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    IVdsAsync *async = NULL, *other = (void *)0xdeadbeef;
    VDS_VDISK_PROPERTIES props;
    VDS_ASYNC_OUTPUT out;
    HRESULT hr;

    if (!(open = open_disk(prov, L"busy3.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 2, &vdisk)))
        return;
    hr = IVdsOpenVDisk_Compact(open, 0, 0, &async);
    ok_hr(hr, S_OK, "Compact (a long one)");
    if (SUCCEEDED(hr))
    {
        HRESULT status = 0;
        ULONG pct;

        IVdsAsync_QueryStatus(async, &status, &pct);
        if (status == VDS_E_OPERATION_PENDING)
        {
            memset(&props, 0, sizeof(props));
            IVdsVDisk_GetProperties(vdisk, &props);
            ok(props.State == VDS_VST_COMPACTING, "state %d is VDS_VST_COMPACTING", props.State);
            CoTaskMemFree(props.pPath);
            ok_hr(IVdsOpenVDisk_Expand(open, 0, 2ull << 30, &other), VDS_E_VD_DISK_IS_COMPACTING, "Expand while compacting");
            ok(other == NULL, "... clears ppAsync");
            ok_hr(IVdsOpenVDisk_Merge(open, 0, 1, &other), VDS_E_VD_DISK_IS_COMPACTING, "Merge while compacting");
            ok_hr(IVdsOpenVDisk_DetachAndDelete(open, 0, 0), VDS_E_VDISK_INVALID_OP_STATE, "DetachAndDelete while compacting");
        }
        else
            printf("# skipped: the compaction finished before the busy checks\n");
        IVdsAsync_Cancel(async);
        wait_task(async, &out);
        IVdsAsync_Release(async);
    }
    IVdsOpenVDisk_Release(open);
    IVdsVDisk_Release(vdisk);
}
