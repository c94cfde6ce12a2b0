/* What the vdsshim commands share: exit codes, failure lines, JSON strings,
 * the progress bar with Ctrl-C cancellation, and the fault-injected open. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "vdsshim_io_fault.h"

volatile sig_atomic_t interrupted;

void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

int exit_code_from_status(int st)
{
    switch (st)
    {
    case VDSSHIM_OK: return EXIT_OK;
    case VDSSHIM_E_INVALID_ARG: return EXIT_USAGE;
    case VDSSHIM_E_UNKNOWN_FORMAT:
    case VDSSHIM_E_CORRUPT:
    case VDSSHIM_E_UNSUPPORTED:
    case VDSSHIM_E_PARENT_NOT_FOUND:
    case VDSSHIM_E_PARENT_MISMATCH: return EXIT_BAD_IMAGE;
    case VDSSHIM_E_IN_USE: return EXIT_IN_USE;
    case VDSSHIM_E_CANCELLED: return EXIT_CANCELLED;
    case VDSSHIM_E_WRONG_TYPE: return EXIT_WRONG_TYPE;
    default: return EXIT_IO;
    }
}

int fail(const char *path, int st, const struct vdsshim_diag *diag)
{
    fprintf(stderr, "vdsshim: %s: %s\n", path, diag->msg[0] ? diag->msg : vdsshim_strerror(st));
    return exit_code_from_status(st);
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
    {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

int on_progress(void *ctx, unsigned pct)
{
    struct bar *bar = ctx;

    if (bar->shown && pct != bar->last)
    {
        char cells[41];
        unsigned i, fill = pct * 40 / 100;
        for (i = 0; i < 40; i++) cells[i] = i < fill ? '#' : '.';
        cells[40] = 0;
        fprintf(stderr, "\r%s [%s] %3u%%", bar->label, cells, pct);
        fflush(stderr);
    }
    bar->last = pct;
    return interrupted;
}

/* Read-write open; under VDSSHIM_FAULT_CUT_AFTER_WRITE the file goes through the
 * fault injector, so crash tests can stop the real tool at any write. */
int open_for_write(const char *path, struct vdsshim_image **img, struct vdsshim_diag *diag)
{
    const char *cut = getenv("VDSSHIM_FAULT_CUT_AFTER_WRITE"), *mode = getenv("VDSSHIM_FAULT_CUT_MODE");
    const char *seed = getenv("VDSSHIM_FAULT_SEED");
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_io *file, *io;
    int st;

    if (!cut || !*cut) return vdsshim_open(path, VDSSHIM_OPEN_WRITE, img, diag);
    plan.cut_after_write = strtoull(cut, NULL, 10);
    plan.cut_mode = mode && !strcmp(mode, "drop") ? VDSSHIM_CUT_DROP
                  : mode && !strcmp(mode, "tear") ? VDSSHIM_CUT_TEAR : VDSSHIM_CUT_APPLY;
    plan.seed = seed ? (uint32_t)strtoul(seed, NULL, 10) : 1;
    if ((st = vdsshim_io_open_file(path, 1, &file))) return st;
    if ((st = vdsshim_io_lock(file, 1)) || (st = vdsshim_io_fault_wrap(file, &plan, &io)))
    {
        vdsshim_io_close(file);
        return st;
    }
    return vdsshim_open_io(io, path, VDSSHIM_OPEN_WRITE, img, diag);
}

