/* VHDX headers and region tables: decode (validating) and encode. formats.md §2.3-2.4. */
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "vhdx.h"

const uint8_t vhdx_region_bat[16] = {
    0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08 };
const uint8_t vhdx_region_meta[16] = {
    0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e };


const struct vhdx_guid vhdx_no_log;

int vhdx_guid_is_zero(const struct vhdx_guid *g)
{
    static const struct vhdx_guid zero;

    return !memcmp(g, &zero, sizeof(zero));
}

int vhdx_guid_parse(const char *s, struct vhdx_guid *out)
{
    /* Text order: Data1 (4 bytes, stored LE), Data2, Data3 (LE), then 8 raw bytes. */
    static const int pos[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    int i = 0, k;

    if (*s == '{') s++;
    for (k = 0; k < 16; k++)
    {
        unsigned v;
        if (*s == '-' && (k == 4 || k == 6 || k == 8 || k == 10)) s++;
        if (sscanf(s, "%2x", &v) != 1 || !s[0] || !s[1]) return 0;
        out->b[pos[k]] = (uint8_t)v;
        s += 2;
        i++;
    }
    return (*s == 0 || (*s == '}' && s[1] == 0)) && i == 16;
}

void vhdx_guid_format(const struct vhdx_guid *g, char out[39])
{
    static const int pos[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    int i;

    *o++ = '{';
    for (i = 0; i < 16; i++)
    {
        if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
        *o++ = hex[g->b[pos[i]] >> 4];
        *o++ = hex[g->b[pos[i]] & 15];
    }
    *o++ = '}';
    *o = 0;
}

int vhdx_header_decode(const uint8_t buf[VHDX_HEADER_SIZE], struct vhdx_header *h, uint64_t at,
                       struct vdsshim_diag *diag)
{
    uint32_t crc;

    h->signature = get_le32(buf);
    h->checksum = get_le32(buf + 4);
    h->sequence = get_le64(buf + 8);
    memcpy(h->file_write_guid.b, buf + 16, 16);
    memcpy(h->data_write_guid.b, buf + 32, 16);
    memcpy(h->log_guid.b, buf + 48, 16);
    h->log_version = get_le16(buf + 64);
    h->version = get_le16(buf + 66);
    h->log_length = get_le32(buf + 68);
    h->log_offset = get_le64(buf + 72);
    memcpy(h->reserved, buf + 80, sizeof(h->reserved));

    if (memcmp(buf, "head", 4))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "no header signature at offset %llu", (unsigned long long)at);
    crc = crc32c_with_zero_field(buf, VHDX_HEADER_SIZE, 4);
    if (crc != h->checksum)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at + 4, "header checksum at offset %llu is %#010x, expected %#010x",
                        (unsigned long long)(at + 4), h->checksum, crc);
    if (h->version != 1 || h->log_version != 0)
        return diag_set(diag, VDSSHIM_E_UNSUPPORTED, at + 64,
                        "header at offset %llu has version %u and log version %u (only 1 and 0 are known)",
                        (unsigned long long)at, h->version, h->log_version);
    if (h->log_offset % MiB || h->log_length % MiB || h->log_offset < VHDX_HEADER_SECTION || !h->log_length)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at + 68,
                        "header at offset %llu places the log at %llu+%u (must be 1 MiB aligned, after 1 MiB)",
                        (unsigned long long)at, (unsigned long long)h->log_offset, h->log_length);
    return VDSSHIM_OK;
}

void vhdx_header_encode(const struct vhdx_header *h, uint8_t buf[VHDX_HEADER_SIZE])
{
    memcpy(buf, "head", 4);
    put_le32(buf + 4, 0);
    put_le64(buf + 8, h->sequence);
    memcpy(buf + 16, h->file_write_guid.b, 16);
    memcpy(buf + 32, h->data_write_guid.b, 16);
    memcpy(buf + 48, h->log_guid.b, 16);
    put_le16(buf + 64, h->log_version);
    put_le16(buf + 66, h->version);
    put_le32(buf + 68, h->log_length);
    put_le64(buf + 72, h->log_offset);
    memcpy(buf + 80, h->reserved, sizeof(h->reserved));
    put_le32(buf + 4, crc32c(buf, VHDX_HEADER_SIZE));
}

int vhdx_region_table_decode(const uint8_t buf[VHDX_REGION_SIZE], struct vhdx_region_table *t, uint64_t at,
                             struct vdsshim_diag *diag)
{
    uint32_t crc, i;

    if (memcmp(buf, "regi", 4))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "no region table signature at offset %llu",
                        (unsigned long long)at);
    crc = crc32c_with_zero_field(buf, VHDX_REGION_SIZE, 4);
    if (crc != get_le32(buf + 4))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at + 4,
                        "region table checksum at offset %llu is %#010x, expected %#010x",
                        (unsigned long long)(at + 4), get_le32(buf + 4), crc);
    t->entry_count = get_le32(buf + 8);
    if (t->entry_count > VHDX_MAX_ENTRIES)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at + 8, "region table at offset %llu claims %u entries (at most %u)",
                        (unsigned long long)at, t->entry_count, VHDX_MAX_ENTRIES);
    for (i = 0; i < t->entry_count; i++)
    {
        const uint8_t *e = buf + 16 + 32 * i;
        struct vhdx_region *r = &t->entries[i];

        memcpy(r->guid.b, e, 16);
        r->offset = get_le64(e + 16);
        r->length = get_le32(e + 24);
        r->required = get_le32(e + 28);
        if (r->offset % MiB || r->length % MiB || r->offset < VHDX_HEADER_SECTION || !r->length)
            return diag_set(diag, VDSSHIM_E_CORRUPT, at + 16 + 32 * i + 16,
                            "region %u at offset %llu+%u is not 1 MiB aligned after the header section",
                            i, (unsigned long long)r->offset, r->length);
    }
    return VDSSHIM_OK;
}

void vhdx_region_table_encode(const struct vhdx_region_table *t, uint8_t buf[VHDX_REGION_SIZE])
{
    uint32_t i;

    memset(buf, 0, VHDX_REGION_SIZE);
    memcpy(buf, "regi", 4);
    put_le32(buf + 8, t->entry_count);
    for (i = 0; i < t->entry_count; i++)
    {
        uint8_t *e = buf + 16 + 32 * i;
        memcpy(e, t->entries[i].guid.b, 16);
        put_le64(e + 16, t->entries[i].offset);
        put_le32(e + 24, t->entries[i].length);
        put_le32(e + 28, t->entries[i].required);
    }
    put_le32(buf + 4, crc32c(buf, VHDX_REGION_SIZE));
}
