/*  ready.h — what "ready" means, read from the broker's broker.status.

    The gateway is ready when the broker answers and every writer lease it
    reports has a live holder: a service whose writer is gone would answer
    every write with 503. (The broker reports a lease while it knows the
    service: while a standby waits or requests are queued for it. A
    service whose last worker left is forgotten, so /ready cannot yet
    notice a service that is down entirely: that needs the broker to keep
    vacant leases in broker.status.)
*/
#ifndef GW_READY_H
#define GW_READY_H

#include <rapport/pack.h>

//  The name of the first lease in broker.status `data` without a live
//  holder (heap string, caller frees), or NULL if every lease has one.
char *gw_ready_vacant(const msgpack_object *data);

void gw_ready_test(void);

#endif
