/*
 * The widl-generated header against vds-reference.md and [MS-VDS]: every
 * GUID, the layout of every structure a client and the provider exchange
 * (and of the software provider's, for SDK clients), and the vtable slot
 * (= DCOM opnum) of every method.
 */
#include <windows.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vdsshim_vds.h"

/* vds-reference.md §1, typed in from the table, not from the IDL. */
static const struct { const IID *iid; const char *text; } guids[] =
{
    { &CLSID_VdsLoader, "9C38ED61-D565-4728-AEEE-C80952F0ECDE" },
    { &CLSID_VdsService, "7D1933CB-86F6-4A98-8628-01BE94C9A575" },
    { &IID_IVdsServiceLoader, "E0393303-90D4-4A97-AB71-E9B671EE2729" },
    { &IID_IVdsService, "0818A8EF-9BA9-40D8-A6F9-E22833CC771E" },
    { &IID_IVdsServiceInitialization, "4AFC3636-DB01-4052-80C3-03BBCB8D3C69" },
    { &IID_IEnumVdsObject, "118610B7-8D94-4030-B5B8-500889788E4E" },
    { &IID_IVdsAsync, "D5D23B6D-5A55-4492-9889-397A3C2D2DBC" },
    { &IID_IVdsProvider, "10C5E575-7984-4E81-A56B-431F5F92AE42" },
    { &IID_IVdsVdProvider, "B481498C-8354-45F9-84A0-0BDD2832A91F" },
    { &IID_IVdsVDisk, "1E062B84-E5E6-4B4B-8A25-67B81E8F13E8" },
    { &IID_IVdsOpenVDisk, "75C8F324-F715-4FE3-A28E-F9011B61A4A1" },
    { &IID_IVdsDisk, "07E5C822-F00C-47A1-8FCE-B244DA56FD06" },
    { &IID_IVdsVolume, "88306BB2-E71F-478C-86A2-79DA200A0F11" },
    { &IID_IVdsAdviseSink, "8326CD1D-CF59-4936-B786-5EFC08798E25" },
    /* [MS-VDS] §1.9's table, typed in. */
    { &IID_IVdsSwProvider, "9AA58360-CE33-4F92-B658-ED24B14425B8" },
    { &IID_IVdsPack, "3B69D7F5-9D94-4648-91CA-79939BA263BF" },
    { &IID_IVdsDisk2, "40F73C8B-687D-4A13-8D96-3D7F2E683936" },
    { &IID_IVdsAdvancedDisk, "6E6F6B40-977C-4069-BDDD-AC710059F8C0" },
    { &IID_IVdsVolumeMF, "EE2D5DED-6236-4169-931D-B9778CE03DC6" },
    { &IID_IVdsVolumePlex, "4DAA0135-E1D1-40F1-AAA5-3CC1E53221C3" },
};

static void test_guids(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(guids) / sizeof(guids[0]); i++)
    {
        char text[40];
        const GUID *g = guids[i].iid;
        snprintf(text, sizeof(text), "%08lX-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X",
                 (unsigned long)g->Data1, g->Data2, g->Data3, g->Data4[0], g->Data4[1], g->Data4[2],
                 g->Data4[3], g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7]);
        assert_string_equal(text, guids[i].text);
    }
}

static void test_struct_layouts(void **state)
{
    (void)state;
    /* §3.2 */
    assert_int_equal(sizeof(VDS_ASYNC_OUTPUT), 32);
    assert_int_equal(offsetof(VDS_ASYNC_OUTPUT, cp), 8);
    assert_int_equal(offsetof(VDS_ASYNC_OUTPUT, cvd.pVDiskUnk), 8);
    /* §3.4, x64 column */
    assert_int_equal(sizeof(VDS_VDISK_PROPERTIES), 88);
    assert_int_equal(offsetof(VDS_VDISK_PROPERTIES, State), 16);
    assert_int_equal(offsetof(VDS_VDISK_PROPERTIES, VirtualDeviceType), 20);
    assert_int_equal(offsetof(VDS_VDISK_PROPERTIES, VirtualSize), 40);
    assert_int_equal(offsetof(VDS_VDISK_PROPERTIES, PhysicalSize), 48);
    assert_int_equal(offsetof(VDS_VDISK_PROPERTIES, pPath), 56);
    assert_int_equal(offsetof(VDS_VDISK_PROPERTIES, pDeviceName), 64);
    assert_int_equal(offsetof(VDS_VDISK_PROPERTIES, DiskFlag), 72);
    assert_int_equal(offsetof(VDS_VDISK_PROPERTIES, bIsChild), 76);
    assert_int_equal(offsetof(VDS_VDISK_PROPERTIES, pParentPath), 80);
    /* §3.5, §3.6, §3.8 */
    assert_int_equal(sizeof(VIRTUAL_STORAGE_TYPE), 20);
    assert_int_equal(sizeof(VDS_CREATE_VDISK_PARAMETERS), 48);
    assert_int_equal(sizeof(VDS_PROVIDER_PROP), 64);
    assert_int_equal(offsetof(VDS_PROVIDER_PROP, pwszName), 16);
    assert_int_equal(offsetof(VDS_PROVIDER_PROP, guidVersionId), 24);
    assert_int_equal(offsetof(VDS_PROVIDER_PROP, pwszVersion), 40);
    assert_int_equal(offsetof(VDS_PROVIDER_PROP, type), 48);
    assert_int_equal(offsetof(VDS_PROVIDER_PROP, sRebuildPriority), 60);
    /* §3.1, §3.3, §3.7, §3.8 values */
    assert_int_equal(VDS_ASYNCOUT_CREATE_VDISK, 200);
    assert_int_equal(VDS_ASYNCOUT_ATTACH_VDISK, 201);
    assert_int_equal(VDS_ASYNCOUT_COMPACT_VDISK, 202);
    assert_int_equal(VDS_ASYNCOUT_MERGE_VDISK, 203);
    assert_int_equal(VDS_ASYNCOUT_EXPAND_VDISK, 204);
    assert_int_equal(VDS_VST_COMPACTING, 7);
    assert_int_equal(VDS_VST_DELETED, 10);
    assert_int_equal(VDS_QUERY_VIRTUALDISK_PROVIDERS, 4);
    assert_int_equal(VDS_PT_VIRTUALDISK, 3);
    assert_int_equal(VDS_OT_VDISK, 200);
    assert_int_equal(VDS_OT_OPEN_VDISK, 201);
    assert_int_equal(VIRTUAL_DISK_ACCESS_METAOPS, 0x00200000);   /* from mingw's virtdisk.h */
}

/* The software provider's structures, x64: offsets worked out by hand from
 * [MS-VDS] §2.2's member lists and the C alignment rules, not from widl. */
static void test_sdk_struct_layouts(void **state)
{
    (void)state;
    assert_int_equal(sizeof(VDS_DISK_PROP), 128);
    assert_int_equal(offsetof(VDS_DISK_PROP, ullSize), 40);
    assert_int_equal(offsetof(VDS_DISK_PROP, BusType), 64);
    assert_int_equal(offsetof(VDS_DISK_PROP, PartitionStyle), 68);
    assert_int_equal(offsetof(VDS_DISK_PROP, dwSignature), 72);
    assert_int_equal(offsetof(VDS_DISK_PROP, DiskGuid), 72);
    assert_int_equal(offsetof(VDS_DISK_PROP, pwszDiskAddress), 88);
    assert_int_equal(offsetof(VDS_DISK_PROP, pwszDevicePath), 120);
    assert_int_equal(sizeof(VDS_PARTITION_PROP), 144);
    assert_int_equal(offsetof(VDS_PARTITION_PROP, ullOffset), 16);
    assert_int_equal(offsetof(VDS_PARTITION_PROP, Mbr), 32);
    assert_int_equal(offsetof(VDS_PARTITION_PROP, Gpt.attributes), 64);
    assert_int_equal(offsetof(VDS_PARTITION_PROP, Gpt.name), 72);
    assert_int_equal(sizeof(VDS_PARTITION_INFO_MBR), 8);
    assert_int_equal(offsetof(VDS_PARTITION_INFO_MBR, hiddenSectors), 4);
    assert_int_equal(sizeof(VDS_DISK_EXTENT), 80);
    assert_int_equal(offsetof(VDS_DISK_EXTENT, ullOffset), 24);
    assert_int_equal(offsetof(VDS_DISK_EXTENT, memberIdx), 72);
    assert_int_equal(sizeof(VDS_VOLUME_PROP), 56);
    assert_int_equal(offsetof(VDS_VOLUME_PROP, ullSize), 32);
    assert_int_equal(offsetof(VDS_VOLUME_PROP, pwszName), 48);
    assert_int_equal(sizeof(VDS_PACK_PROP), 32);
    assert_int_equal(offsetof(VDS_PACK_PROP, status), 24);
    assert_int_equal(sizeof(VDS_VOLUME_PLEX_PROP), 48);
    assert_int_equal(offsetof(VDS_VOLUME_PLEX_PROP, ulNumberOfMembers), 44);
    assert_int_equal(sizeof(CREATE_PARTITION_PARAMETERS), 96);
    assert_int_equal(offsetof(CREATE_PARTITION_PARAMETERS, GptPartInfo.name), 48);  /* union at 8, name at 40 in it */
    assert_int_equal(sizeof(VDS_FILE_SYSTEM_PROP), 56);
    assert_int_equal(offsetof(VDS_FILE_SYSTEM_PROP, ullTotalAllocationUnits), 24);
    assert_int_equal(offsetof(VDS_FILE_SYSTEM_PROP, pwszLabel), 48);
    assert_int_equal(sizeof(VDS_NOTIFICATION), 48);
    assert_int_equal(offsetof(VDS_NOTIFICATION, Volume.ulPercentCompleted), 44);
    assert_int_equal(sizeof(VDS_LUN_INFORMATION), 96);
    assert_int_equal(offsetof(VDS_LUN_INFORMATION, m_diskSignature), 48);
    assert_int_equal(offsetof(VDS_LUN_INFORMATION, m_rgInterconnects), 88);
    assert_int_equal(sizeof(VDS_INPUT_DISK), 48);
    assert_int_equal(VDS_VT_MIRROR, 13);
    assert_int_equal(VDS_NTT_SERVICE, 200);
    assert_int_equal(VDS_DET_UNUSABLE, 0x7fff);
    assert_int_equal(VDS_DF_CURRENT_READ_ONLY, 0x8000);
    assert_int_equal(VDS_NF_SERVICE_OUT_OF_SYNC, 301);
    assert_int_equal(VDSBusTypeFileBackedVirtual, 15);
}

#define SLOT(vtbl, method) (offsetof(vtbl, method) / sizeof(void *))

/* §2: slot numbers of every method, so a client's vtable calls land right. */
static void test_vtable_slots(void **state)
{
    (void)state;
    assert_int_equal(SLOT(IEnumVdsObjectVtbl, Next), 3);
    assert_int_equal(SLOT(IEnumVdsObjectVtbl, Clone), 6);
    assert_int_equal(SLOT(IVdsAsyncVtbl, Cancel), 3);
    assert_int_equal(SLOT(IVdsAsyncVtbl, Wait), 4);
    assert_int_equal(SLOT(IVdsAsyncVtbl, QueryStatus), 5);
    assert_int_equal(SLOT(IVdsServiceLoaderVtbl, LoadService), 3);
    assert_int_equal(SLOT(IVdsServiceVtbl, IsServiceReady), 3);
    assert_int_equal(SLOT(IVdsServiceVtbl, QueryProviders), 6);
    assert_int_equal(SLOT(IVdsServiceVtbl, QueryMaskedDisks), 7);
    assert_int_equal(SLOT(IVdsServiceVtbl, QueryUnallocatedDisks), 8);
    assert_int_equal(SLOT(IVdsServiceVtbl, QueryDriveLetters), 10);
    assert_int_equal(SLOT(IVdsServiceVtbl, Advise), 15);
    assert_int_equal(SLOT(IVdsServiceVtbl, ClearFlags), 19);
    assert_int_equal(SLOT(IVdsServiceInitializationVtbl, Initialize), 3);
    assert_int_equal(SLOT(IVdsProviderVtbl, GetProperties), 3);
    assert_int_equal(SLOT(IVdsVdProviderVtbl, QueryVDisks), 3);
    assert_int_equal(SLOT(IVdsVdProviderVtbl, CreateVDisk), 4);
    assert_int_equal(SLOT(IVdsVdProviderVtbl, AddVDisk), 5);
    assert_int_equal(SLOT(IVdsVdProviderVtbl, GetVDiskFromDisk), 7);
    assert_int_equal(SLOT(IVdsVDiskVtbl, Open), 3);
    assert_int_equal(SLOT(IVdsVDiskVtbl, GetDeviceName), 6);
    assert_int_equal(SLOT(IVdsOpenVDiskVtbl, Attach), 3);
    assert_int_equal(SLOT(IVdsOpenVDiskVtbl, Detach), 4);
    assert_int_equal(SLOT(IVdsOpenVDiskVtbl, DetachAndDelete), 5);
    assert_int_equal(SLOT(IVdsOpenVDiskVtbl, Compact), 6);
    assert_int_equal(SLOT(IVdsOpenVDiskVtbl, Merge), 7);
    assert_int_equal(SLOT(IVdsOpenVDiskVtbl, Expand), 8);
    /* The software provider's interfaces ([MS-VDS] Appendix A's opnums). */
    assert_int_equal(SLOT(IVdsAdviseSinkVtbl, OnNotify), 3);
    assert_int_equal(SLOT(IVdsSwProviderVtbl, CreatePack), 4);
    assert_int_equal(SLOT(IVdsPackVtbl, QueryDisks), 6);
    assert_int_equal(SLOT(IVdsPackVtbl, ReplaceDisk), 10);     /* Opnum10NotUsedOnWire */
    assert_int_equal(SLOT(IVdsPackVtbl, Recover), 12);
    assert_int_equal(SLOT(IVdsDiskVtbl, GetIdentificationData), 5);
    assert_int_equal(SLOT(IVdsDiskVtbl, ClearFlags), 9);
    assert_int_equal(SLOT(IVdsDisk2Vtbl, SetSANMode), 3);
    assert_int_equal(SLOT(IVdsAdvancedDiskVtbl, QueryPartitions), 4);
    assert_int_equal(SLOT(IVdsAdvancedDiskVtbl, FormatPartition), 11);
    assert_int_equal(SLOT(IVdsAdvancedDiskVtbl, Clean), 12);
    assert_int_equal(SLOT(IVdsVolumeVtbl, Extend), 6);
    assert_int_equal(SLOT(IVdsVolumeVtbl, ClearFlags), 13);
    assert_int_equal(SLOT(IVdsVolumeMFVtbl, QueryAccessPaths), 6);
    assert_int_equal(SLOT(IVdsVolumeMFVtbl, ClearFileSystemFlags), 12);
    assert_int_equal(SLOT(IVdsVolumePlexVtbl, QueryExtents), 5);
    assert_int_equal(SLOT(IVdsVolumePlexVtbl, Repair), 6);
}

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_guids),
        cmocka_unit_test(test_struct_layouts),
        cmocka_unit_test(test_sdk_struct_layouts),
        cmocka_unit_test(test_vtable_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
