/*  ready.c — see ready.h. */
#include <rapport/log.h>
#include <rapport/ready.h>

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct _rp_ready_t {
    char *path; //  NULL: off
    char *temp; //  path + ".tmp", renamed over path
    bool failed_once;
};

rp_ready_t *rp_ready_new(const char *path)
{
    rp_ready_t *self = calloc(1, sizeof *self);
    assert(self);
    if (path && *path) {
        self->path = strdup(path);
        size_t size = strlen(path) + 5;
        self->temp = malloc(size);
        assert(self->path && self->temp);
        snprintf(self->temp, size, "%s.tmp", path);
        unlink(self->path);
    }
    return self;
}

void rp_ready_destroy(rp_ready_t **self_p)
{
    rp_ready_t *self = *self_p;
    if (!self)
        return;
    if (self->path) {
        unlink(self->path);
        unlink(self->temp);
    }
    free(self->path);
    free(self->temp);
    free(self);
    *self_p = NULL;
}

int rp_ready_mark(rp_ready_t *self, const char *service, uint64_t cursor, uint64_t epoch)
{
    if (!self || !self->path)
        return 0;
    FILE *file = fopen(self->temp, "w");
    int rc = -1;
    if (file) {
        bool written =
            fprintf(file, "ready %s %" PRIu64 " %" PRIu64 "\n", service, cursor, epoch) > 0;
        if (fclose(file) == 0 && written && rename(self->temp, self->path) == 0)
            rc = 0;
    }
    if (rc != 0 && !self->failed_once) {
        //  Once: a health check that cannot be written fails loudly in the
        //  orchestrator, one log line is enough to say why.
        rp_warn("ready: cannot write %s: %s", self->path, strerror(errno));
        self->failed_once = true;
    }
    return rc;
}

int rp_ready_check(const char *path, int max_age_ms, const char **why)
{
    struct stat st;
    if (!path || !*path) {
        *why = "no ready file configured (health/ready_file)";
        return -1;
    }
    if (stat(path, &st) != 0) {
        *why = "not ready (no ready file: catching up, or not running)";
        return -1;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t age_ms = ((int64_t)now.tv_sec - (int64_t)st.st_mtim.tv_sec) * 1000 +
                     ((int64_t)now.tv_nsec - (int64_t)st.st_mtim.tv_nsec) / 1000000;
    if (age_ms > max_age_ms) {
        *why = "stale ready file (the service loop is not turning)";
        return -1;
    }
    *why = "ready";
    return 0;
}

//  ---------------------------------------------------------------------
//  Self-test

void rp_ready_test(void)
{
    char dir[] = "/tmp/rp_ready_test.XXXXXX";
    assert(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/ready", dir);
    const char *why = NULL;

    //  A file left behind by an earlier process is removed at start.
    FILE *stale = fopen(path, "w");
    assert(stale);
    fclose(stale);
    rp_ready_t *ready = rp_ready_new(path);
    assert(rp_ready_check(path, 10000, &why) == -1);

    assert(rp_ready_mark(ready, "demo", 42, 7) == 0);
    assert(rp_ready_check(path, 10000, &why) == 0);
    char line[64] = "";
    FILE *file = fopen(path, "r");
    assert(file && fgets(line, sizeof line, file));
    fclose(file);
    assert(strcmp(line, "ready demo 42 7\n") == 0);

    //  Old enough: stale.
    struct timespec old[2] = {{.tv_sec = time(NULL) - 60}, {.tv_sec = time(NULL) - 60}};
    assert(utimensat(AT_FDCWD, path, old, 0) == 0);
    assert(rp_ready_check(path, 10000, &why) == -1);
    assert(strstr(why, "stale"));
    assert(rp_ready_mark(ready, "demo", 43, 0) == 0);
    assert(rp_ready_check(path, 10000, &why) == 0);

    //  Stopping removes it.
    rp_ready_destroy(&ready);
    assert(ready == NULL);
    assert(rp_ready_check(path, 10000, &why) == -1);
    assert(rp_ready_check(NULL, 10000, &why) == -1);

    //  Off: every call is harmless.
    ready = rp_ready_new(NULL);
    assert(rp_ready_mark(ready, "demo", 1, 0) == 0);
    rp_ready_destroy(&ready);

    //  A directory that does not exist: -1, no crash.
    char missing[80];
    snprintf(missing, sizeof missing, "%s/no/such/ready", dir);
    ready = rp_ready_new(missing);
    assert(rp_ready_mark(ready, "demo", 1, 0) == -1);
    rp_ready_destroy(&ready);
    rmdir(dir);
}
