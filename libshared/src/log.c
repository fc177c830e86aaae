/*  log.c — one line per event, tagged with service and instance.

    A line is written with a single write(2) so lines from threads and
    processes sharing a terminal or container log never interleave.
*/
#include <rapport/log.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char s_service[64] = "rapport";
static char s_instance[96] = "";
static rp_log_level_t s_level = RP_LOG_INFO;

static const char *s_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

static rp_log_level_t s_level_parse(const char *level)
{
    if (strcmp(level, "debug") == 0)
        return RP_LOG_DEBUG;
    if (strcmp(level, "warn") == 0 || strcmp(level, "warning") == 0)
        return RP_LOG_WARN;
    if (strcmp(level, "error") == 0)
        return RP_LOG_ERROR;
    return RP_LOG_INFO;
}

void rp_log_init(const char *service, const char *instance, const char *level)
{
    if (service)
        snprintf(s_service, sizeof s_service, "%s", service);
    if (instance && *instance)
        snprintf(s_instance, sizeof s_instance, "%s", instance);
    else {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = 0;
        snprintf(s_instance, sizeof s_instance, "%s-%d", host, (int)getpid());
    }
    if (level)
        s_level = s_level_parse(level);
}

const char *rp_log_instance(void)
{
    if (!*s_instance)
        rp_log_init(NULL, NULL, NULL);
    return s_instance;
}

int rp_log_enabled(rp_log_level_t level)
{
    return level >= s_level;
}

void rp_log_print(rp_log_level_t level, const char *format, ...)
{
    if (!rp_log_enabled(level))
        return;
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - n, ".%03dZ %s %s/%s ", (int)(tv.tv_usec / 1000),
                  s_names[level], s_service, rp_log_instance());
    va_list args;
    va_start(args, format);
    int m = vsnprintf(line + n, sizeof line - n - 1, format, args);
    va_end(args);
    //  A message longer than the line is cut, never spilled over.
    n = (m < 0) ? n : (n + m > (int)sizeof line - 2 ? (int)sizeof line - 2 : n + m);
    line[n++] = '\n';
    ssize_t rc = write(STDERR_FILENO, line, n);
    (void)rc;
}
