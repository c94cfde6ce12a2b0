/* What the vdsshim commands share: exit codes, failure lines, JSON strings,
 * the progress bar with Ctrl-C cancellation, and the fault-injected open. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <io.h>
#define isatty _isatty
#define fileno _fileno
#else
#include <unistd.h>
#endif

#include "tool.h"
#include "vdsshim_io_fault.h"

volatile sig_atomic_t interrupted;

/* Whether a bar is drawn: not for --json or --quiet, only on a terminal. */
static int progress_shown(int json, int quiet)
{
    return !quiet && !json && isatty(fileno(stderr));
}

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* SIGINT, SIGTERM and SIGHUP cancel the running operation (1), or kill again (0). */
static void catch_stop_signals(int catch)
{
    /* Ctrl-C, kill's default SIGTERM and a closed terminal's SIGHUP all mean
     * "stop": at the next safe point, with exit 6 and a valid image. */
    void (*h)(int) = catch ? on_interrupt : SIG_DFL;

    signal(SIGINT, h);
    signal(SIGTERM, h);
#ifdef SIGHUP
    signal(SIGHUP, h);
#endif
}

/* Test hook: VDSSHIM_TEST_STOP_AT=PCT makes the tool stop itself (SIGSTOP)
 * once, when the operation first reports PCT percent or more, with its file
 * open and locked, so a test can try other programs on it mid-run and then
 * let it go on with SIGCONT. */
static void stop_for_test(unsigned pct)
{
#ifndef _WIN32
    static int done;
    const char *at = getenv("VDSSHIM_TEST_STOP_AT");

    if (done || !at || !*at || pct < strtoul(at, NULL, 10)) return;
    done = 1;
    raise(SIGSTOP);
#else
    (void)pct;
#endif
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

    stop_for_test(pct);
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

void bar_begin(struct bar *bar, const char *label, int json, int quiet)
{
    bar->shown = progress_shown(json, quiet);
    bar->label = label;
    catch_stop_signals(1);
}

void bar_end(struct bar *bar)
{
    catch_stop_signals(0);
    if (bar->shown) fputc('\n', stderr);
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

