/*  config.h — configuration: defaults in config/<service>.cfg, overrides from
    the environment.

    Files are ZPL (czmq's zconfig). A key is a path such as "broker/endpoint";
    the environment variable RAPPORT_<PATH> (upper case, '/' → '_') overrides
    it: RAPPORT_BROKER_ENDPOINT, RAPPORT_FEED_ENDPOINT, RAPPORT_DATA_DIR,
    RAPPORT_LOG_LEVEL. The file is looked up in $RAPPORT_CONFIG_DIR (default
    "config"); a missing file is not an error, since every key has a default
    in the code that reads it.
*/
#ifndef RAPPORT_CONFIG_H
#define RAPPORT_CONFIG_H

#include <stdint.h>

typedef struct _rp_config_t rp_config_t;

//  Load config/<service>.cfg (or nothing, if absent).
rp_config_t *rp_config_new(const char *service);
void rp_config_destroy(rp_config_t **self_p);

//  The value for path: environment first, then file, then fallback.
const char *rp_config_get(rp_config_t *self, const char *path, const char *fallback);

//  The same, as an integer; a value that is not a whole number gives fallback.
int64_t rp_config_int(rp_config_t *self, const char *path, int64_t fallback);

//  The service name given to rp_config_new.
const char *rp_config_service(rp_config_t *self);

//  The well-known keys, with their defaults.
#define RP_DEFAULT_BROKER_ENDPOINT "tcp://127.0.0.1:5555"
#define RP_DEFAULT_FEED_ENDPOINT   "tcp://127.0.0.1:5556"
#define RP_DEFAULT_DATA_DIR        "./var"

void rp_config_test(void);

#endif
