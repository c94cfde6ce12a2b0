/*
 * The copy of a conversion (convert_copy): what it wrote is durable when it
 * returns. vdsshim_convert renames the new file into place right after, so a
 * power cut then must find the whole content there, for every kind of target
 * (a fixed one's data goes in place, unflushed until the closing flush).
 * convert.sh covers the command itself against qemu-img.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "vhd_builder.h"
#include "create.h"

#define MiB (1024u * 1024u)
#define SIZE (8 * MiB)

static uint8_t *source_vhd(size_t *size)
{
    static const uint8_t uid[16] = { 0x5c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    struct vhd_builder b;
    uint8_t *block = malloc(2 * MiB), *out;
    size_t n;

    assert_non_null(block);
    vb_init(&b, SIZE, 2 * MiB, uid, NULL);
    fill_random(block, 2 * MiB, 7);
    vb_add_block(&b, 0, NULL, block);
    fill_random(block, 2 * MiB, 8);
    memset(block, 0, MiB);          /* a block half zero: the zero half is not written */
    vb_add_block(&b, 3, NULL, block);
    vb_finish(&b, &n);
    out = malloc(n);
    assert_non_null(out);
    memcpy(out, b.data, n);
    vb_free(&b);
    free(block);
    *size = n;
    return out;
}

/* A new empty target in memory, its bytes back in *mem. */
static void create_target(enum vdsshim_format format, enum vdsshim_disk_type type, struct vdsshim_io **mem)
{
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_io *io;

    p.format = format;
    p.type = type;
    p.virtual_size = SIZE;
    plan.inner_on_close = mem;
    assert_status(vdsshim_io_open_mem(NULL, 0, &io), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(io, &plan, &io), VDSSHIM_OK);
    assert_status(vdsshim_create_io(io, "target", &p, &diag), VDSSHIM_OK);
}

/* State: bit 0 VHDX, bit 1 fixed. */
static void test_copy_durable_at_return(void **state)
{
    const int which = *(const int *)*state;
    const enum vdsshim_format format = which & 1 ? VDSSHIM_FORMAT_VHDX : VDSSHIM_FORMAT_VHD;
    const enum vdsshim_disk_type type = which & 2 ? VDSSHIM_DISK_FIXED : VDSSHIM_DISK_DYNAMIC;
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *src, *dst, *left;
    struct vdsshim_io *mem = NULL, *kept = NULL, *io;
    struct progress progress = { 0 };
    uint8_t *raw, *want, *got;
    uint64_t want_size, got_size;
    const uint8_t *bytes;
    size_t n;

    raw = source_vhd(&n);
    src = open_mem_image(raw, n, 0);
    assert_non_null(src);
    want = read_all(src, &want_size);

    create_target(format, type, &mem);
    plan.cut_at_close = 1;              /* the power goes as the file is closed */
    plan.cut_mode = VDSSHIM_CUT_DROP;   /* everything not flushed is lost */
    plan.inner_on_close = &kept;
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, "target", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, &dst, &diag),
                  VDSSHIM_OK);
    assert_status(convert_copy(src, dst, &progress, &diag), VDSSHIM_OK);
    vdsshim_close(dst);

    bytes = vdsshim_io_mem_data(kept, &n);
    left = open_mem_image(bytes, n, 0);
    if (!left) fail_msg("after a power cut just after the copy returned, the target does not open");
    got = read_all(left, &got_size);
    assert_int_equal(got_size, want_size);
    if (memcmp(got, want, (size_t)want_size))
        fail_msg("after a power cut just after the copy returned, the target reads other data");

    free(got);
    vdsshim_close(left);
    vdsshim_io_close(kept);
    free(want);
    vdsshim_close(src);
    free(raw);
}

int main(void)
{
    static const int kinds[] = { 0, 1, 2, 3 };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_copy_durable_at_return, (void *)&kinds[0]),
        cmocka_unit_test_prestate(test_copy_durable_at_return, (void *)&kinds[1]),
        cmocka_unit_test_prestate(test_copy_durable_at_return, (void *)&kinds[2]),
        cmocka_unit_test_prestate(test_copy_durable_at_return, (void *)&kinds[3]),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
