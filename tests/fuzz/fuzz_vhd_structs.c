/*
 * VHD footer and dynamic header decoders. Input: a 512-byte footer, then a
 * 1024-byte dynamic header (short inputs are zero-padded). A structure the
 * decoder accepts must survive encode → decode → encode unchanged, and a
 * refusal must say why.
 */
#include <string.h>

#include "fuzz.h"
#include "vhd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t raw[VHD_FOOTER_SIZE + VHD_DYNHDR_SIZE] = { 0 };
    uint8_t once[VHD_DYNHDR_SIZE], twice[VHD_DYNHDR_SIZE];
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vhd_footer f, f2;
    struct vhd_dynhdr h, h2;
    int st;

    memcpy(raw, data, size < sizeof(raw) ? size : sizeof(raw));

    st = vhd_footer_decode(raw, &f, 1000, &diag);
    if (st == VDSSHIM_OK)
    {
        vhd_footer_encode(&f, once);
        FUZZ_CHECK(vhd_footer_decode(once, &f2, 0, &diag) == VDSSHIM_OK, "re-encoded footer refused: %s", diag.msg);
        vhd_footer_encode(&f2, twice);
        FUZZ_CHECK(!memcmp(once, twice, VHD_FOOTER_SIZE), "footer encode/decode is not stable");
    }
    else
        FUZZ_CHECK(fuzz_is_refusal(st) && diag.msg[0], "footer refused with %s, reason '%s'",
                   vdsshim_status_name(st), diag.msg);

    diag.msg[0] = 0;
    st = vhd_dynhdr_decode(raw + VHD_FOOTER_SIZE, &h, 2000, &diag);
    if (st == VDSSHIM_OK)
    {
        vhd_dynhdr_encode(&h, once);
        FUZZ_CHECK(vhd_dynhdr_decode(once, &h2, 0, &diag) == VDSSHIM_OK, "re-encoded header refused: %s", diag.msg);
        vhd_dynhdr_encode(&h2, twice);
        FUZZ_CHECK(!memcmp(once, twice, VHD_DYNHDR_SIZE), "dynamic header encode/decode is not stable");
    }
    else
        FUZZ_CHECK(fuzz_is_refusal(st) && diag.msg[0], "dynamic header refused with %s, reason '%s'",
                   vdsshim_status_name(st), diag.msg);
    return 0;
}
