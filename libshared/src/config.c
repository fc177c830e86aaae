/*  config.c — ZPL defaults, environment overrides.  */
#include <rapport/config.h>
#include <rapport/log.h>

#include <assert.h>
#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct _rp_config_t {
    char *service;
    zconfig_t *root; //  NULL when there is no file
};

rp_config_t *rp_config_new(const char *service)
{
    rp_config_t *self = calloc(1, sizeof *self);
    assert(self);
    self->service = strdup(service);
    const char *dir = getenv("RAPPORT_CONFIG_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s.cfg", dir && *dir ? dir : "config", service);
    if (zsys_file_exists(path)) {
        self->root = zconfig_load(path);
        if (!self->root)
            rp_warn("config: cannot parse %s, using defaults", path);
    }
    return self;
}

void rp_config_destroy(rp_config_t **self_p)
{
    if (!*self_p)
        return;
    rp_config_t *self = *self_p;
    zconfig_destroy(&self->root);
    free(self->service);
    free(self);
    *self_p = NULL;
}

//  "broker/endpoint" → "RAPPORT_BROKER_ENDPOINT"
static void s_env_name(const char *path, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "RAPPORT_");
    for (; *path && n + 1 < size; path++)
        out[n++] = (*path == '/' || *path == '-') ? '_' : (char)toupper((unsigned char)*path);
    out[n] = 0;
}

const char *rp_config_get(rp_config_t *self, const char *path, const char *fallback)
{
    char name[256];
    s_env_name(path, name, sizeof name);
    const char *value = getenv(name);
    if (value && *value)
        return value;
    if (self && self->root) {
        value = zconfig_get(self->root, path, NULL);
        if (value && *value)
            return value;
    }
    return fallback;
}

int64_t rp_config_int(rp_config_t *self, const char *path, int64_t fallback)
{
    const char *value = rp_config_get(self, path, NULL);
    if (!value)
        return fallback;
    char *end;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (errno || end == value || *end) {
        rp_warn("config: %s=\"%s\" is not a whole number, using %lld", path, value,
                (long long)fallback);
        return fallback;
    }
    return n;
}

const char *rp_config_service(rp_config_t *self)
{
    return self->service;
}

void rp_config_test(void)
{
    char dir[] = "/tmp/rp-config-XXXXXX";
    assert(mkdtemp(dir));
    char path[600];
    snprintf(path, sizeof path, "%s/demo.cfg", dir);
    FILE *file = fopen(path, "w");
    assert(file);
    fprintf(file, "broker\n    endpoint = \"tcp://10.0.0.1:1\"\nrouter\n    queue_max = 7\n"
                  "    bad = 12x\n");
    fclose(file);
    setenv("RAPPORT_CONFIG_DIR", dir, 1);
    unsetenv("RAPPORT_BROKER_ENDPOINT");

    rp_config_t *config = rp_config_new("demo");
    assert(streq(rp_config_get(config, "broker/endpoint", "x"), "tcp://10.0.0.1:1"));
    assert(streq(rp_config_get(config, "feed/endpoint", "dflt"), "dflt"));
    assert(rp_config_int(config, "router/queue_max", 1) == 7);
    assert(rp_config_int(config, "router/bad", 3) == 3);
    assert(rp_config_int(config, "router/absent", 5) == 5);
    //  The environment wins over the file.
    setenv("RAPPORT_BROKER_ENDPOINT", "tcp://127.0.0.1:9", 1);
    assert(streq(rp_config_get(config, "broker/endpoint", "x"), "tcp://127.0.0.1:9"));
    unsetenv("RAPPORT_BROKER_ENDPOINT");
    rp_config_destroy(&config);
    assert(config == NULL);

    //  A missing file is fine: defaults apply.
    config = rp_config_new("absent");
    assert(streq(rp_config_get(config, "data/dir", "./var"), "./var"));
    rp_config_destroy(&config);

    unsetenv("RAPPORT_CONFIG_DIR");
    remove(path);
    rmdir(dir);
}
