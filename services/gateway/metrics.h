/*  metrics.h — request counters and latency histograms, in Prometheus text.

    Routes are labelled by their pattern ("/api/v1/tally/{key}"), never by
    the raw path, so the number of series stays bounded whatever clients
    send. Route labels must be static strings.
*/
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stddef.h>

typedef struct _gw_metrics_t gw_metrics_t;

gw_metrics_t *gw_metrics_new(void);
void gw_metrics_destroy(gw_metrics_t **self_p);

//  Count one answered request and its latency in seconds.
void gw_metrics_record(gw_metrics_t *self, const char *route, int status, double seconds);

//  The exposition text (caller frees), version 0.0.4 of the text format.
char *gw_metrics_render(gw_metrics_t *self, size_t *size);

void gw_metrics_test(void);

#endif
