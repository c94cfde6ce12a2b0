/*
 * vdsshim_set_identifier on a VHD: its footers' unique id. A power cut after
 * each write, in every crash state (crash_states.h: reorderings included),
 * leaves a disk that opens with the old id or the new one and reads the
 * same; its next read-write open leaves the copy at offset 0 equal to the
 * footer at the end. Success survives a cut right after it returns (the
 * closing flush), and a child of the disk no longer matches it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_states.h"
#include "test_util.h"
#include "vhd_builder.h"

#define MiB (1ull << 20)

/* As vdsshim_get_identity gives them (GUIDs); old_stored as the footer keeps it (big-endian). */
static const uint8_t old_id[16] = { 0x0d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t old_stored[16] = { 3, 2, 1, 0x0d, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t new_id[16] = { 0x1e, 0xd1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* A dynamic VHD of 8 MiB with data in blocks 0 and 2. */
static uint8_t *dynamic_disk(size_t *size)
{
    struct vhd_builder b;
    uint8_t *d = malloc(2 * MiB), *out;

    vb_init(&b, 8 * MiB, 2 * MiB, old_stored, NULL);
    fill_random(d, 2 * MiB, 41);
    vb_add_block(&b, 0, NULL, d);
    fill_random(d, 2 * MiB, 42);
    vb_add_block(&b, 2, NULL, d);
    vb_finish(&b, size);
    out = malloc(*size);
    memcpy(out, b.data, *size);
    vb_free(&b);
    free(d);
    return out;
}

/* A fixed VHD of 4 MiB made by the engine, with old_id. */
static uint8_t *fixed_disk(size_t *size)
{
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint8_t *out;

    remove("idf.vhd");
    p.format = VDSSHIM_FORMAT_VHD;
    p.type = VDSSHIM_DISK_FIXED;
    p.virtual_size = 4 * MiB;
    p.unique_id = old_stored;
    assert_status(vdsshim_create("idf.vhd", &p, &diag), VDSSHIM_OK);
    out = read_whole_file("idf.vhd", size);
    remove("idf.vhd");
    return out;
}

static int set_new_id(struct vdsshim_image *img, void *ctx, struct vdsshim_diag *diag)
{
    (void)ctx;
    return vdsshim_set_identifier(img, new_id, diag);
}

static int set_id_on(const uint8_t *raw, size_t size, struct vdsshim_fault_plan plan, struct vdsshim_io **disk,
                     struct vdsshim_fault_counters *c)
{
    return run_op_under_plan(raw, size, "id.vhd", VDSSHIM_OPEN_WRITE, plan, set_new_id, NULL, disk, c);
}

/* The disk left behind: opens, with the old id or (must_be_new) the new one,
 * and reads content; a read-write open and close leaves both footers alike
 * and the same id. */
static void expect_disk(struct vdsshim_io *disk, const uint8_t *content, uint64_t vsize, int must_be_new,
                        const char *what, uint64_t k)
{
    struct vdsshim_identity ident;
    struct vdsshim_image *img;
    struct vdsshim_io *after;
    const uint8_t *d;
    uint8_t id[16];
    size_t n;

    img = open_left(disk, "id.vhd", what, k);
    assert_status(vdsshim_get_identity(img, &ident), VDSSHIM_OK);
    if (memcmp(ident.id, new_id, 16) && (must_be_new || memcmp(ident.id, old_id, 16)))
        fail_msg("%s after write %llu: the id is neither %s", what, (unsigned long long)k,
                 must_be_new ? "the new one" : "old nor new");
    memcpy(id, ident.id, 16);
    expect_reads(img, content, vsize, what, k);
    vdsshim_close(img);

    /* The next read-write open settles the copy on the end footer. */
    img = open_left_rw(disk, "id.vhd", what, k, &after);
    assert_status(vdsshim_get_identity(img, &ident), VDSSHIM_OK);
    assert_memory_equal(ident.id, id, 16);
    vdsshim_close(img);
    d = vdsshim_io_mem_data(after, &n);
    if (memcmp(d + n - 512, "conectix", 8)) fail_msg("%s after write %llu: no footer at the end", what, (unsigned long long)k);
    if (!memcmp(d, "conectix", 8) && memcmp(d, d + n - 512, 512))
        fail_msg("%s after write %llu: the footer copy still differs after a read-write open", what,
                 (unsigned long long)k);
    vdsshim_io_close(after);
}

static void sweep(const uint8_t *raw, size_t size, uint64_t want_writes)
{
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_image *img;
    struct vdsshim_io *disk;
    uint8_t *content;
    uint64_t vsize, k;
    unsigned m;

    img = open_mem_image(raw, size, 0);
    content = read_all(img, &vsize);
    vdsshim_close(img);
    assert_status(set_id_on(raw, size, plan, &disk, &c), VDSSHIM_OK);
    assert_int_equal(c.writes, want_writes);
    expect_disk(disk, content, vsize, 1, "uninterrupted", 0);
    vdsshim_io_close(disk);

    /* Returned success: a cut right after it (all unflushed writes lost) keeps the new id. */
    plan.cut_at_close = 1;
    plan.cut_mode = VDSSHIM_CUT_DROP;
    assert_status(set_id_on(raw, size, plan, &disk, &c), VDSSHIM_OK);
    expect_disk(disk, content, vsize, 1, "a cut after success", 0);
    vdsshim_io_close(disk);

    for (k = 1; k <= want_writes; k++)
    {
        uint64_t pending = 0;
        char name[96];

        memset(&plan, 0, sizeof(plan));
        for (m = 0; crash_state(m, pending, &plan, name, sizeof(name)); m++)
        {
            plan.cut_after_write = k;
            assert_status(set_id_on(raw, size, plan, &disk, &c), VDSSHIM_E_IO);
            pending = c.pending_at_cut;
            expect_disk(disk, content, vsize, 0, name, k);
            vdsshim_io_close(disk);
        }
    }
    free(content);
}

static void test_dynamic_and_power_cuts(void **state)
{
    size_t size;
    uint8_t *raw = dynamic_disk(&size);

    (void)state;
    sweep(raw, size, 2);        /* the end footer, its copy */
    free(raw);
}

static void test_fixed_and_power_cuts(void **state)
{
    size_t size;
    uint8_t *raw = fixed_disk(&size);

    (void)state;
    sweep(raw, size, 1);        /* its one footer */
    free(raw);
}

/* A copy at offset 0 that differs from the end footer in more than the id
 * (its data offset) is still refused as corrupt, and nothing is written. */
static void test_other_disagreement_refused(void **state)
{
    size_t size;
    uint8_t *raw = dynamic_disk(&size);
    uint32_t sum = 0;
    unsigned i;

    (void)state;
    raw[16 + 7] ^= 0x02;                        /* data offset 512 -> 514 */
    for (i = 0; i < 512; i++)
        if (i < 64 || i >= 68) sum += raw[i];
    sum = ~sum;
    raw[64] = (uint8_t)(sum >> 24);
    raw[65] = (uint8_t)(sum >> 16);
    raw[66] = (uint8_t)(sum >> 8);
    raw[67] = (uint8_t)sum;
    expect_open_rw(raw, size, "id.vhd", VDSSHIM_E_CORRUPT, "disagrees");
    free(raw);
}

/* The child of a disk whose id changed names the old one: it no longer opens with it. */
static void test_child_no_longer_matches(void **state)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_image *img;
    size_t size;
    uint8_t *raw = dynamic_disk(&size);

    (void)state;
    remove("idc.vhd");
    write_file("idp.vhd", raw, size);
    p.format = VDSSHIM_FORMAT_VHD;
    p.type = VDSSHIM_DISK_DIFFERENCING;
    p.parent_path = "idp.vhd";
    assert_status(vdsshim_create("idc.vhd", &p, &diag), VDSSHIM_OK);
    assert_status(vdsshim_open("idc.vhd", 0, &img, &diag), VDSSHIM_OK);
    vdsshim_close(img);
    assert_status(vdsshim_open("idp.vhd", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_identifier(img, new_id, &diag), VDSSHIM_OK);
    vdsshim_close(img);
    assert_status(vdsshim_open("idc.vhd", 0, &img, &diag), VDSSHIM_E_PARENT_MISMATCH);
    assert_status(vdsshim_open("idp.vhd", 0, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_identifier(img, old_id, &diag), VDSSHIM_E_READONLY);
    vdsshim_close(img);
    remove("idc.vhd");
    remove("idp.vhd");
    free(raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dynamic_and_power_cuts),
        cmocka_unit_test(test_fixed_and_power_cuts),
        cmocka_unit_test(test_other_disagreement_refused),
        cmocka_unit_test(test_child_no_longer_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
