/*
 * The widl-generated header against vds-reference.md: every GUID, the
 * layout of every structure a client and the provider exchange, and the
 * vtable slot (= DCOM opnum) of every method of the chain.
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
}

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_guids),
        cmocka_unit_test(test_struct_layouts),
        cmocka_unit_test(test_vtable_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
