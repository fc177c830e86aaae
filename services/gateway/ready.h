/*  ready.h — what "ready" means, read from the broker's broker.status.

    The gateway is ready when the broker answers and every writer lease it
    reports has a live holder: a service whose writer is gone would answer
    every write with 503. The broker lists every lease ever granted on its
    journal — vacant ones too, and after a restart those its journal holds
    (docs/protocol.md § broker.status) — so a service that is down
    entirely, or whose writer never came back after a broker restart, is
    not ready.
*/
#ifndef GW_READY_H
#define GW_READY_H

#include <rapport/pack.h>

//  The name of the first lease in broker.status `data` without a live
//  holder (heap string, caller frees), or NULL if every lease has one.
char *gw_ready_vacant(const msgpack_object *data);

void gw_ready_test(void);

#endif
