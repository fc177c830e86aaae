/*  metrics.c — see metrics.h. */
#include "metrics.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

//  Upper bounds in seconds (le); the last bucket, +Inf, is the count.
static const double s_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define BUCKETS (sizeof s_bounds / sizeof s_bounds[0])

typedef struct {
    const char *route;
    uint64_t buckets[BUCKETS]; //  cumulative on output, per bucket here
    uint64_t count;
    double sum;
} histogram_t;

struct _gw_metrics_t {
    zhashx_t *requests;   //  "route status" → uint64_t count
    zhashx_t *histograms; //  route → histogram_t
};

gw_metrics_t *gw_metrics_new(void)
{
    gw_metrics_t *self = (gw_metrics_t *)zmalloc(sizeof *self);
    self->requests = zhashx_new();
    zhashx_set_destructor(self->requests, (zhashx_destructor_fn *)zstr_free);
    self->histograms = zhashx_new();
    zhashx_set_destructor(self->histograms, (zhashx_destructor_fn *)zstr_free);
    return self;
}

void gw_metrics_destroy(gw_metrics_t **self_p)
{
    gw_metrics_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->requests);
    zhashx_destroy(&self->histograms);
    free(self);
    *self_p = NULL;
}

void gw_metrics_record(gw_metrics_t *self, const char *route, int status, double seconds)
{
    char key[160];
    snprintf(key, sizeof key, "%s %d", route, status);
    uint64_t *count = (uint64_t *)zhashx_lookup(self->requests, key);
    if (!count) {
        count = (uint64_t *)zmalloc(sizeof *count);
        zhashx_insert(self->requests, key, count);
    }
    (*count)++;

    histogram_t *histogram = (histogram_t *)zhashx_lookup(self->histograms, route);
    if (!histogram) {
        histogram = (histogram_t *)zmalloc(sizeof *histogram);
        histogram->route = route;
        zhashx_insert(self->histograms, route, histogram);
    }
    size_t bucket = 0;
    while (bucket < BUCKETS && seconds > s_bounds[bucket])
        bucket++;
    if (bucket < BUCKETS)
        histogram->buckets[bucket]++;
    histogram->count++;
    histogram->sum += seconds;
}

static int s_compare(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

//  The keys of a hash, sorted, so the output is stable.
static zlistx_t *s_sorted_keys(zhashx_t *hash)
{
    zlistx_t *keys = zhashx_keys(hash);
    zlistx_set_comparator(keys, (zlistx_comparator_fn *)s_compare);
    zlistx_sort(keys);
    return keys;
}

char *gw_metrics_render(gw_metrics_t *self, size_t *size)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert(out);
    fprintf(out, "# HELP rapport_http_requests_total HTTP requests answered, by route and "
                 "status.\n# TYPE rapport_http_requests_total counter\n");
    zlistx_t *keys = s_sorted_keys(self->requests);
    for (const char *key = (const char *)zlistx_first(keys); key;
         key = (const char *)zlistx_next(keys)) {
        const char *space = strrchr(key, ' ');
        fprintf(out, "rapport_http_requests_total{route=\"%.*s\",status=\"%s\"} %" PRIu64 "\n",
                (int)(space - key), key, space + 1,
                *(uint64_t *)zhashx_lookup(self->requests, key));
    }
    zlistx_destroy(&keys);

    fprintf(out, "# HELP rapport_http_request_duration_seconds Time from request to answer.\n"
                 "# TYPE rapport_http_request_duration_seconds histogram\n");
    keys = s_sorted_keys(self->histograms);
    for (const char *key = (const char *)zlistx_first(keys); key;
         key = (const char *)zlistx_next(keys)) {
        histogram_t *histogram = (histogram_t *)zhashx_lookup(self->histograms, key);
        uint64_t cumulative = 0;
        for (size_t i = 0; i < BUCKETS; i++) {
            cumulative += histogram->buckets[i];
            fprintf(out,
                    "rapport_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                    "%" PRIu64 "\n",
                    key, s_bounds[i], cumulative);
        }
        fprintf(out,
                "rapport_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                "%" PRIu64 "\n"
                "rapport_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                "rapport_http_request_duration_seconds_count{route=\"%s\"} %" PRIu64 "\n",
                key, histogram->count, key, histogram->sum, key, histogram->count);
    }
    zlistx_destroy(&keys);
    fclose(out);
    if (size)
        *size = len;
    return text;
}

void gw_metrics_test(void)
{
    gw_metrics_t *metrics = gw_metrics_new();
    gw_metrics_record(metrics, "/health", 200, 0.0001);
    gw_metrics_record(metrics, "/health", 200, 0.003);
    gw_metrics_record(metrics, "/health", 503, 3.0);
    gw_metrics_record(metrics, "unmatched", 404, 0.0001);
    size_t size;
    char *text = gw_metrics_render(metrics, &size);
    assert(text && size == strlen(text));
    assert(strstr(text, "rapport_http_requests_total{route=\"/health\",status=\"200\"} 2\n"));
    assert(strstr(text, "rapport_http_requests_total{route=\"/health\",status=\"503\"} 1\n"));
    assert(strstr(text, "rapport_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"));
    //  Buckets are cumulative; +Inf holds the 3 s request too.
    assert(strstr(text, "_bucket{route=\"/health\",le=\"0.0005\"} 1\n"));
    assert(strstr(text, "_bucket{route=\"/health\",le=\"0.005\"} 2\n"));
    assert(strstr(text, "_bucket{route=\"/health\",le=\"2.5\"} 2\n"));
    assert(strstr(text, "_bucket{route=\"/health\",le=\"+Inf\"} 3\n"));
    assert(strstr(text, "rapport_http_request_duration_seconds_count{route=\"/health\"} 3\n"));
    free(text);
    gw_metrics_destroy(&metrics);
    assert(metrics == NULL);
}
