/*  log.h — one line per event, tagged with service and instance.

    Lines go to stderr (containers collect stdout/stderr), in the form
        2026-11-23T07:40:00.123Z INFO  broker/host-4711 router: worker ready service=x
    The level comes from RAPPORT_LOG_LEVEL (debug, info, warn, error).
*/
#ifndef RAPPORT_LOG_H
#define RAPPORT_LOG_H

typedef enum { RP_LOG_DEBUG, RP_LOG_INFO, RP_LOG_WARN, RP_LOG_ERROR } rp_log_level_t;

//  Set the service name and instance id printed on every line, and the level
//  ("debug", "info", "warn", "error"; NULL keeps the current one).
void rp_log_init(const char *service, const char *instance, const char *level);

//  The instance id given to rp_log_init (hostname-pid unless set).
const char *rp_log_instance(void);

//  True if messages at this level are printed.
int rp_log_enabled(rp_log_level_t level);

//  Print one line. Use the macros below.
void rp_log_print(rp_log_level_t level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#define rp_debug(...)                                                                              \
    do {                                                                                           \
        if (rp_log_enabled(RP_LOG_DEBUG))                                                          \
            rp_log_print(RP_LOG_DEBUG, __VA_ARGS__);                                               \
    } while (0)
#define rp_info(...)  rp_log_print(RP_LOG_INFO, __VA_ARGS__)
#define rp_warn(...)  rp_log_print(RP_LOG_WARN, __VA_ARGS__)
#define rp_error(...) rp_log_print(RP_LOG_ERROR, __VA_ARGS__)

#endif
