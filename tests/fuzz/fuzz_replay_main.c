/*
 * Replays inputs through a fuzz target without libFuzzer: every file named
 * on the command line, or inside a directory named there. Used by ctest to
 * keep each crash ever found (tests/fuzz/regressions/TARGET) fixed in every
 * build, including those without clang.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data;
    long n;

    if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
    {
        fprintf(stderr, "cannot read %s\n", path);
        if (f) fclose(f);
        return 1;
    }
    data = malloc(n ? (size_t)n : 1);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n)
    {
        fprintf(stderr, "cannot read %s\n", path);
        fclose(f);
        free(data);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, (size_t)n);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    int i, bad = 0;

    for (i = 1; i < argc; i++)
    {
        struct stat st;
        DIR *dir;
        struct dirent *e;

        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) && (dir = opendir(argv[i])))
        {
            while ((e = readdir(dir)))
            {
                char path[4096];

                if (e->d_name[0] == '.') continue;
                snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
                printf("replay %s\n", path);
                fflush(stdout);
                bad |= replay_file(path);
                count++;
            }
            closedir(dir);
        }
        else
        {
            bad |= replay_file(argv[i]);
            count++;
        }
    }
    printf("%u inputs replayed, every property held\n", count);
    return bad;
}
