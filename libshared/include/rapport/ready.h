/*  ready.h — a readiness file, for health checks from outside the process.

    A container's health check runs a separate program (rapport-probe) in
    the container; it cannot ask a service instance's own socket which
    instance answered, since every request goes through the broker to any
    instance. So an instance says "I am ready" on its filesystem instead:
    the service runtime (service.h) writes the file named by the
    configuration key health/ready_file (RAPPORT_HEALTH_READY_FILE) once the
    store has caught up with the journal and the workers are registered,
    refreshes it every tick while the loop turns, and removes it on stop.
    A checker takes the file as ready while it is fresh, so a wedged loop
    turns unhealthy too, and a file left by a killed process goes stale.

    The file holds one line, "ready <service> <cursor> <epoch>\n": the seq
    the store has applied, and the writer lease epoch while this instance
    holds "<service>.writer" (0 for a standby), for people and tests that
    need to tell which container is the writer.
*/
#ifndef RAPPORT_READY_H
#define RAPPORT_READY_H

#include <stdint.h>

typedef struct _rp_ready_t rp_ready_t;

//  A readiness file at path; NULL or "" gives a marker that does nothing
//  (health checks off). Removes a file left by an earlier process, so the
//  instance is not ready until it says so.
rp_ready_t *rp_ready_new(const char *path);

//  Remove the file (the instance stops serving) and free the marker.
void rp_ready_destroy(rp_ready_t **self_p);

//  Write or refresh the file: atomically (a temporary file renamed over
//  it), so a checker never reads half a line. A NULL or off marker does
//  nothing. Returns 0, or -1 if it
//  could not be written (logged once).
int rp_ready_mark(rp_ready_t *self, const char *service, uint64_t cursor, uint64_t epoch);

//  For checkers: 0 if the file at path exists and was written within
//  max_age_ms, else -1 with *why set to a static reason.
int rp_ready_check(const char *path, int max_age_ms, const char **why);

void rp_ready_test(void);

#endif
