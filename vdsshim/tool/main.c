/*
 * vdsshim command-line tool over the engine: one cmd_*.c per group of commands;
 * the commands themselves are listed once, in usage_text below.
 */
#define _FILE_OFFSET_BITS 64
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <io.h>
#include <windows.h>
#include <shellapi.h>
#else
#include <unistd.h>
#endif

#include "tool.h"


static const char usage_text[] =
    "usage: vdsshim COMMAND [OPTIONS] FILE\n"
    "       vdsshim compact [OPTIONS] FILE...\n"
    "\n"
    "In-place, crash-safe compaction of dynamic and differencing VHD and VHDX files.\n"
    "\n"
    "commands:\n"
    "  info      show format, sizes, allocation, fragmentation and parent chain\n"
    "  check     validate every structure and the parent chain (read-only; a VHDX\n"
    "            log is replayed in memory, never on disk)\n"
    "  compact   give unused blocks back to the host file system, in place; several\n"
    "            FILEs in turn (one failing stops none: the worst exit code, a total line;\n"
    "            --json: one array)\n"
    "  dump      write the virtual disk's contents as raw bytes: dump FILE [OUT|-]\n"
    "  create    make a new image: create [--format vhd|vhdx] [--fixed] [--size N]\n"
    "            [--block-size N] [--sector-size 512|4096] [--parent PARENT] FILE\n"
    "  merge     copy a differencing disk's data into its parent: merge [--depth N] CHILD\n"
    "            (N levels: the child and N-1 parents go into parent N; default 1)\n"
    "  expand    grow a dynamic or fixed disk's virtual size: expand FILE NEWSIZE\n"
    "  shrink    make a dynamic VHDX's virtual size smaller: shrink FILE [NEWSIZE]\n"
    "            (never below the end of its last partition; no NEWSIZE: to that end)\n"
    "  set-parent point a differencing disk at another parent file: set-parent CHILD\n"
    "            PARENT (of the child's format and size; switched atomically)\n"
    "  convert   make a new image with the same content in another format or type:\n"
    "            convert [--format vhd|vhdx] [--fixed] [--size N] [--block-size N] SRC DST\n"
    "            (DST must not exist; it appears only once complete)\n"
    "\n"
    "sizes take K, M, G or T (powers of 1024). create defaults: the format from the\n"
    "file name (.vhdx or .vhd), dynamic, blocks of 2 MiB (VHD) or 32 MiB (VHDX; 2 MiB\n"
    "for fixed and differencing), 512-byte logical sectors; a child takes its parent's\n"
    "size, format and sector size.\n"
    "\n"
    "options:\n"
    "  --no-zero-scan    compact: reclaim only blocks with no data (no data reads)\n"
    "  --no-block-moves  compact: unmap blocks only; no relocation, no truncation\n"
    "  --fs-aware        compact: also reclaim blocks the guest's file systems mark free\n"
    "                    (NTFS, FAT12/16/32, exFAT, ext2/3/4, XFS, Linux swap, in MBR, GPT or\n"
    "                    whole-disk volumes or linear LVM2 LVs); stale bytes in free space may read as zeros afterwards;\n"
    "                    a volume not understood stays in offline mode, the report says why\n"
    "  --dry-run         compact: write nothing (the file is opened read-only); report what\n"
    "                    a real run would reclaim, per volume and in total\n"
    "  --json            print the result as one JSON object\n"
    "  --quiet           print nothing but errors\n"
    "  -h, --help        show this help\n"
    "  --version         show the version\n"
    "\n"
    "exit codes:\n"
    "  0 success   2 bad usage   3 image corrupt, unsupported or parent chain broken\n"
    "  4 I/O error   5 file in use   6 cancelled   7 not possible on this disk type\n"
    "\n"
    "An interrupted compaction, merge or expansion leaves a valid image with the same\n"
    "content; running it again finishes the job. Ctrl-C, SIGTERM and SIGHUP stop it at\n"
    "the next safe point (exit 6). An image that another vdsshim or qemu (a running VM,\n"
    "qemu-io, qemu-img without -U) has open is refused (exit 5): vdsshim takes qemu's\n"
    "locks too, so qemu refuses the image while vdsshim works on it.\n"
    "\n"
    "crash testing: VDSSHIM_FAULT_CUT_AFTER_WRITE=K makes compact or expand stop as if the power\n"
    "failed after its K-th write (unflushed writes: VDSSHIM_FAULT_CUT_MODE=drop|apply|tear,\n"
    "VDSSHIM_FAULT_SEED=N); the file is left as a real crash would leave it.\n";

static const char *type_name(enum vdsshim_disk_type t)
{
    switch (t)
    {
    case VDSSHIM_DISK_FIXED: return "fixed";
    case VDSSHIM_DISK_DYNAMIC: return "dynamic";
    case VDSSHIM_DISK_DIFFERENCING: return "differencing";
    }
    return "unknown";
}

/* VHD stores ids in RFC 4122 byte order, VHDX as Microsoft GUIDs (first fields little-endian). */
static void format_id(const struct vdsshim_info *info, char out[37])
{
    static const int guid_order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    const uint8_t *b = info->unique_id;
    char *o = out;
    int i;

    for (i = 0; i < 16; i++)
    {
        int k = info->format == VDSSHIM_FORMAT_VHDX ? guid_order[i] : i;
        if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
        o += sprintf(o, "%02x", b[k]);
    }
}

static void print_info(const char *path, const struct vdsshim_info *info, unsigned frag, int json)
{
    char id[37];

    format_id(info, id);
    if (json)
    {
        printf("{\"file\":");
        json_string(stdout, path);
        printf(",\"format\":\"%s\",\"type\":\"%s\",\"virtual_size\":%llu,\"file_size\":%llu,"
               "\"block_size\":%u,\"logical_sector_size\":%u,\"physical_sector_size\":%u,"
               "\"block_count\":%llu,\"blocks_allocated\":%llu,\"fragmentation_percent\":%u,"
               "\"unique_id\":\"%s\",\"creator\":",
               info->format == VDSSHIM_FORMAT_VHDX ? "vhdx" : "vhd", type_name(info->type),
               (unsigned long long)info->virtual_size, (unsigned long long)info->file_size,
               info->block_size, info->logical_sector_size, info->physical_sector_size,
               (unsigned long long)info->block_count, (unsigned long long)info->blocks_allocated, frag, id);
        json_string(stdout, info->creator);
        if (info->has_parent)
        {
            printf(",\"parent\":");
            json_string(stdout, info->parent_path);
            printf(",\"parent_open\":%s,\"chain_depth\":%u", info->parent_open ? "true" : "false",
                   info->chain_depth);
        }
        printf("}\n");
        return;
    }
    printf("file:          %s\n", path);
    printf("format:        %s %s\n", info->format == VDSSHIM_FORMAT_VHDX ? "VHDX" : "VHD", type_name(info->type));
    printf("virtual size:  %llu bytes\n", (unsigned long long)info->virtual_size);
    printf("file size:     %llu bytes\n", (unsigned long long)info->file_size);
    if (info->block_size)
    {
        printf("block size:    %u bytes\n", info->block_size);
        printf("blocks:        %llu, %llu allocated\n", (unsigned long long)info->block_count,
               (unsigned long long)info->blocks_allocated);
        printf("fragmentation: %u%% (blocks out of virtual order in the file)\n", frag);
    }
    printf("sector size:   %u logical, %u physical\n", info->logical_sector_size, info->physical_sector_size);
    printf("creator:       %s\n", info->creator);
    printf("unique id:     %s\n", id);
    if (info->has_parent)
        printf("parent:        %s (%s)\n", info->parent_path[0] ? info->parent_path : "(no usable locator)",
               info->parent_open ? "found" : "not found");
}

static int cmd_info(const char *path, int json)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct vdsshim_info info;
    unsigned frag = 0;
    int st = vdsshim_open(path, 0, &img, &diag);

    if (st == VDSSHIM_E_PARENT_NOT_FOUND || st == VDSSHIM_E_PARENT_MISMATCH)
    {
        /* Still describe the disk itself. */
        fprintf(stderr, "vdsshim: %s: warning: %s\n", path, diag.msg);
        st = vdsshim_open(path, VDSSHIM_OPEN_NO_PARENTS, &img, &diag);
    }
    if (st) return fail(path, st, &diag);
    vdsshim_get_info(img, &info);
    vdsshim_fragmentation(img, &frag);
    print_info(path, &info, frag, json);
    vdsshim_close(img);
    return EXIT_OK;
}

static int cmd_check(const char *path, int json, int quiet)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct vdsshim_info info;
    int st = vdsshim_open(path, 0, &img, &diag);

    if (st)
    {
        if (json)
        {
            printf("{\"file\":");
            json_string(stdout, path);
            printf(",\"ok\":false,\"status\":\"%s\",\"reason\":", vdsshim_status_name(st));
            json_string(stdout, diag.msg);
            printf("}\n");
        }
        return fail(path, st, &diag);
    }
    vdsshim_get_info(img, &info);
    vdsshim_close(img);
    if (json)
    {
        printf("{\"file\":");
        json_string(stdout, path);
        printf(",\"ok\":true}\n");
    }
    else if (!quiet)
        printf("%s: no errors found (%s %s, chain depth %u)\n", path,
               info.format == VDSSHIM_FORMAT_VHDX ? "VHDX" : "VHD", type_name(info.type), info.chain_depth);
    return EXIT_OK;
}

/* What several compactions added up to (compact FILE...). */
struct compact_total
{
    unsigned files, failed;
    uint64_t reclaimed;
    int in_array;               /* --json with several files: one array of objects */
};

static void print_volumes_json(const struct vdsshim_compact_result *res)
{
    unsigned i;

    printf("[");
    for (i = 0; i < res->fs_report_count; i++)
    {
        const struct vdsshim_fs_report *r = &res->fs_reports[i];
        printf("%s{\"volume\":", i ? "," : "");
        json_string(stdout, r->volume);
        printf(",\"fs\":");
        json_string(stdout, r->fs);
        printf(",\"offset\":%llu,\"size\":%llu,\"used\":%s,\"free\":%llu,\"reclaimed\":%llu,\"reason\":",
               (unsigned long long)r->offset, (unsigned long long)r->size, r->used ? "true" : "false",
               (unsigned long long)r->free_bytes, (unsigned long long)r->reclaimed);
        json_string(stdout, r->reason);
        printf("}");
    }
    printf("]");
}

static int cmd_compact(const char *path, unsigned flags, int json, int quiet, struct compact_total *total)
{
    int dry = !!(flags & VDSSHIM_COMPACT_DRY_RUN);
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_compact_options opts = { 0 };
    struct vdsshim_compact_result res = { 0 };
    struct vdsshim_image *img;
    struct bar bar = { 0 };
    int st;

    total->files++;
    /* A dry run opens read-only: it cannot write. */
    if ((st = dry ? vdsshim_open(path, 0, &img, &diag) : open_for_write(path, &img, &diag)))
    {
        total->failed++;
        if (total->in_array)
        {
            printf("%s{\"file\":", total->files > 1 ? "," : "");
            json_string(stdout, path);
            printf(",\"status\":\"%s\"}", vdsshim_status_name(st));
        }
        return fail(path, st, &diag);
    }
    opts.progress = on_progress;
    opts.progress_ctx = &bar;
    opts.flags = flags;
    bar_begin(&bar, dry ? "dry run" : "compacting", json, quiet);
    st = vdsshim_compact(img, &opts, &res, &diag);
    bar_end(&bar);
    vdsshim_close(img);

    if (st) total->failed++;
    else total->reclaimed += res.size_before - res.size_after;
    if (json)
    {
        printf("%s{\"file\":", total->in_array && total->files > 1 ? "," : "");
        json_string(stdout, path);
        printf(",\"status\":\"%s\",\"size_before\":%llu,\"size_after\":%llu,\"reclaimed\":%llu,"
               "\"blocks_scanned\":%llu,\"blocks_dropped\":%llu,\"blocks_moved\":%llu,"
               "\"bytes_read\":%llu,\"bytes_written\":%llu,\"bytes_copied\":%llu,\"bytes_cloned\":%llu,"
               "\"bytes_punched\":%llu,\"flushes\":%llu,\"host_allocated_before\":%llu,"
               "\"host_allocated_after\":%llu,\"dry_run\":%s",
               vdsshim_status_name(st), (unsigned long long)res.size_before,
               (unsigned long long)res.size_after,
               (unsigned long long)(res.size_before - res.size_after),
               (unsigned long long)res.blocks_scanned, (unsigned long long)res.blocks_dropped,
               (unsigned long long)res.blocks_moved, (unsigned long long)res.bytes_read,
               (unsigned long long)res.bytes_written, (unsigned long long)res.bytes_copied,
               (unsigned long long)res.bytes_cloned, (unsigned long long)res.bytes_punched,
               (unsigned long long)res.flushes, (unsigned long long)res.host_allocated_before,
               (unsigned long long)res.host_allocated_after, dry ? "true" : "false");
        /* In an array the volumes are a member; alone, a second line (--fs-aware). */
        if (total->in_array && res.fs_report_count)
        {
            printf(",\"volumes\":");
            print_volumes_json(&res);
        }
        printf(total->in_array ? "}" : "}\n");
    }
    if (json && !total->in_array && res.fs_report_count)
    {
        printf("{\"file\":");
        json_string(stdout, path);
        printf(",\"volumes\":");
        print_volumes_json(&res);
        printf("}\n");
    }
    if (st) return fail(path, st, &diag);
    if (!json && !quiet)
        printf("%s: %s%llu -> %llu bytes, %llu %s (%llu of %llu blocks %sdropped, %llu moved)\n", path,
               dry ? "dry run, nothing written: " : "", (unsigned long long)res.size_before,
               (unsigned long long)res.size_after, (unsigned long long)(res.size_before - res.size_after),
               dry ? "reclaimable" : "reclaimed", (unsigned long long)res.blocks_dropped,
               (unsigned long long)res.blocks_scanned, dry ? "would be " : "", (unsigned long long)res.blocks_moved);
    if (!json && !quiet)
    {
        char line[256];
        unsigned i;

        for (i = 0; i < res.fs_report_count; i++)
        {
            vdsshim_fs_report_text(&res.fs_reports[i], line, sizeof(line));
            printf("  %s\n", line);
        }
    }
    return EXIT_OK;
}

/* Relative seek that works past 2 GiB on every platform. */
static int seek_forward(FILE *f, long delta)
{
#ifdef _WIN32
    return _fseeki64(f, delta, SEEK_CUR);
#else
    return fseeko(f, delta, SEEK_CUR);
#endif
}

static int cmd_dump(const char *path, const char *out_path)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct vdsshim_info info;
    const size_t chunk = 4u << 20;
    int to_stdout = !out_path || !strcmp(out_path, "-");
    uint64_t off = 0;
    int skipped_tail = 0;
    unsigned char *buf;
    FILE *out;
    int st;

    if ((st = vdsshim_open(path, 0, &img, &diag))) return fail(path, st, &diag);
    vdsshim_get_info(img, &info);
    if (!(buf = malloc(chunk)))
    {
        vdsshim_close(img);
        fprintf(stderr, "vdsshim: out of memory\n");
        return EXIT_IO;
    }
#ifdef _WIN32
    if (to_stdout) _setmode(_fileno(stdout), 0x8000 /* _O_BINARY */);
#endif
    out = to_stdout ? stdout : fopen(out_path, "wb");
    if (!out)
    {
        fprintf(stderr, "vdsshim: %s: cannot create\n", out_path);
        free(buf);
        vdsshim_close(img);
        return EXIT_IO;
    }
    while (off < info.virtual_size && !st)
    {
        size_t n = info.virtual_size - off < chunk ? (size_t)(info.virtual_size - off) : chunk, i;
        int zero = !to_stdout;

        if ((st = vdsshim_read(img, off, buf, n, &diag))) break;
        for (i = 0; zero && i < n; i++) zero = !buf[i];
        /* Zeros in a file output become holes. */
        if (zero ? seek_forward(out, (long)n) != 0 : fwrite(buf, 1, n, out) != n)
        {
            fprintf(stderr, "vdsshim: %s: write failed\n", to_stdout ? "stdout" : out_path);
            st = VDSSHIM_E_IO;
            diag.msg[0] = 0;
            break;
        }
        skipped_tail = zero;
        off += n;
    }
    if (!st && skipped_tail && (seek_forward(out, -1) || fputc(0, out) == EOF)) st = VDSSHIM_E_IO;
    if ((!to_stdout && fclose(out)) || (to_stdout && fflush(out))) st = st ? st : VDSSHIM_E_IO;
    free(buf);
    vdsshim_close(img);
    return st ? fail(path, st, &diag) : EXIT_OK;
}

/* Options that take a value: --name VALUE or --name=VALUE. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];

    if (strncmp(a, name, n)) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] || *i + 1 >= argc) return NULL;
    return argv[++*i];
}

/* compact FILE...: each in turn; the worst exit code, a total line. Ctrl-C
 * ends the file at hand at its safe point and skips the rest. */
static int compact_files(const char **files, int n, unsigned flags, int json, int quiet)
{
    struct compact_total total = { 0 };
    int i, rc, worst = EXIT_OK;

    total.in_array = json && n > 1;
    if (total.in_array) printf("[");
    for (i = 0; i < n && !interrupted; i++)
    {
        rc = cmd_compact(files[i], flags, json, quiet, &total);
        if (rc > worst) worst = rc;
    }
    if (total.in_array) printf("]\n");
    if (n > 1 && !json && !quiet)
        printf("total: %u of %d files %s, %llu bytes %s%s\n", total.files - total.failed, n,
               flags & VDSSHIM_COMPACT_DRY_RUN ? "looked at (dry run)" : "compacted", (unsigned long long)total.reclaimed,
               flags & VDSSHIM_COMPACT_DRY_RUN ? "reclaimable" : "reclaimed", i < n ? " (stopped: the rest skipped)" : "");
    return worst;
}

/* The parsed command line: options that belong to other commands are usage
 * errors; then the command. */
struct parsed
{
    const char *command, *depth;
    const char **args;
    int nargs, json, quiet, create_opts;
    unsigned flags;
    struct create_args create;
};

static int dispatch(const struct parsed *p)
{
    const char *command = p->command, *depth = p->depth, **args = p->args;
    const struct create_args create = p->create;
    int nargs = p->nargs, json = p->json, quiet = p->quiet, create_opts = p->create_opts;
    unsigned flags = p->flags;

    if (!command || !nargs)
    {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (flags && strcmp(command, "compact"))
    {
        fprintf(stderr, "vdsshim: --no-zero-scan, --no-block-moves, --fs-aware and --dry-run apply to compact only\n");
        return EXIT_USAGE;
    }
    if (create_opts && strcmp(command, "create") && strcmp(command, "convert"))
    {
        fprintf(stderr, "vdsshim: --format, --fixed, --size, --block-size, --sector-size and --parent apply to create "
                        "and convert only\n");
        return EXIT_USAGE;
    }
    if (depth && strcmp(command, "merge"))
    {
        fprintf(stderr, "vdsshim: --depth applies to merge only\n");
        return EXIT_USAGE;
    }
    if (nargs > 2 && strcmp(command, "compact"))
    {
        fprintf(stderr, "vdsshim: too many arguments (see vdsshim --help)\n");
        return EXIT_USAGE;
    }
    if (nargs > 1 && strcmp(command, "dump") && strcmp(command, "expand") && strcmp(command, "convert")
        && strcmp(command, "compact") && strcmp(command, "set-parent") && strcmp(command, "shrink"))
    {
        fprintf(stderr, "vdsshim: %s takes one FILE\n", command);
        return EXIT_USAGE;
    }
    if (!strcmp(command, "info")) return cmd_info(args[0], json);
    if (!strcmp(command, "check")) return cmd_check(args[0], json, quiet);
    if (!strcmp(command, "compact")) return compact_files(args, nargs, flags, json, quiet);
    if (!strcmp(command, "dump")) return cmd_dump(args[0], args[1]);
    if (!strcmp(command, "create")) return cmd_create(args[0], &create, json, quiet);
    if (!strcmp(command, "merge"))
    {
        char *end = NULL;
        unsigned long d = depth ? strtoul(depth, &end, 10) : 1;
        if (depth && (*end || !*depth)) d = 0;
        return cmd_merge(args[0], (unsigned)(d > 254 ? 0 : d), json, quiet);
    }
    if (!strcmp(command, "convert"))
    {
        if (nargs != 2)
        {
            fprintf(stderr, "vdsshim: convert takes SRC DST\n");
            return EXIT_USAGE;
        }
        return cmd_convert(args[0], args[1], &create, json, quiet);
    }
    if (!strcmp(command, "expand"))
    {
        if (nargs != 2)
        {
            fprintf(stderr, "vdsshim: expand takes FILE NEWSIZE\n");
            return EXIT_USAGE;
        }
        return cmd_expand(args[0], args[1], json, quiet);
    }
    if (!strcmp(command, "shrink")) return cmd_shrink(args[0], nargs > 1 ? args[1] : NULL, json, quiet);
    if (!strcmp(command, "set-parent"))
    {
        if (nargs != 2)
        {
            fprintf(stderr, "vdsshim: set-parent takes CHILD PARENT\n");
            return EXIT_USAGE;
        }
        return cmd_set_parent(args[0], args[1], json, quiet);
    }
    fprintf(stderr, "vdsshim: unknown command %s (see vdsshim --help)\n", command);
    return EXIT_USAGE;
}

static int run_args(int argc, char **argv, const char **args);

static int run(int argc, char **argv)
{
    const char **args;
    int rc;

    if (!(args = calloc((size_t)argc + 1, sizeof(*args)))) return EXIT_IO;
    rc = run_args(argc, argv, args);
    free(args);
    return rc;
}

static int run_args(int argc, char **argv, const char **args)
{
    const char *command = NULL, *v, *depth = NULL;
    struct create_args create = { 0 };
    unsigned flags = 0;
    int json = 0, quiet = 0, nargs = 0, create_opts = 0, i;

    for (i = 1; i < argc; i++)
    {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
        {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--version"))
        {
            printf("vdsshim %s\n", VDSSHIM_VERSION_STRING);
            return EXIT_OK;
        }
        if (!strcmp(a, "--no-zero-scan")) flags |= VDSSHIM_COMPACT_NO_ZERO_SCAN;
        else if (!strcmp(a, "--no-block-moves")) flags |= VDSSHIM_COMPACT_NO_BLOCK_MOVES;
        else if (!strcmp(a, "--fs-aware")) flags |= VDSSHIM_COMPACT_FS_AWARE;
        else if (!strcmp(a, "--dry-run")) flags |= VDSSHIM_COMPACT_DRY_RUN;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (!strcmp(a, "--fixed")) create.fixed = create_opts = 1;
        else if ((v = option_value(argc, argv, &i, "--format"))) create.format = v, create_opts = 1;
        else if ((v = option_value(argc, argv, &i, "--size"))) create.size = v, create_opts = 1;
        else if ((v = option_value(argc, argv, &i, "--block-size"))) create.block_size = v, create_opts = 1;
        else if ((v = option_value(argc, argv, &i, "--sector-size"))) create.sector_size = v, create_opts = 1;
        else if ((v = option_value(argc, argv, &i, "--parent"))) create.parent = v, create_opts = 1;
        else if ((v = option_value(argc, argv, &i, "--depth"))) depth = v;
        else if (a[0] == '-' && a[1])
        {
            fprintf(stderr, "vdsshim: unknown option or missing value: %s (see vdsshim --help)\n", a);
            return EXIT_USAGE;
        }
        else if (!command) command = a;
        else args[nargs++] = a;
    }
    {
        struct parsed p = { command, depth, args, nargs, json, quiet, create_opts, flags, create };
        return dispatch(&p);
    }
}

#ifdef _WIN32
/* Arguments arrive as UTF-16; the engine takes UTF-8 paths. */
int main(void)
{
    int argc, i, rc;
    LPWSTR *wargv = CommandLineToArgvW(GetCommandLineW(), &argc);
    char **argv;

    if (!wargv || !(argv = calloc((size_t)argc + 1, sizeof(*argv)))) return EXIT_IO;
    for (i = 0; i < argc; i++)
    {
        int n = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);
        if (!(argv[i] = malloc((size_t)n))) return EXIT_IO;
        WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, argv[i], n, NULL, NULL);
    }
    LocalFree(wargv);
    rc = run(argc, argv);
    for (i = 0; i < argc; i++) free(argv[i]);
    free(argv);
    return rc;
}
#else
int main(int argc, char **argv)
{
    return run(argc, argv);
}
#endif
