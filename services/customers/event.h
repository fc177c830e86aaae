/*  event.h — how the customers service writes an event (docs/events.md):
    the envelope {type, id, source, subject, actor, data} every customer.*
    event opens with. New record ids come from rp_id_format
    (rapport/random.h), which this header includes for its writers.

    The actor is packed from the checked scope (scope.h), not copied from
    the request: only {user, role, team} reach the journal. Used by every
    writer (handlers.c, relations.c, import.c), so their events agree.
*/
#ifndef CUSTOMERS_EVENT_H
#define CUSTOMERS_EVENT_H

#include "scope.h"

#include <rapport/random.h>

//  Open an event map with its envelope up to the key "data"; the caller
//  packs data's value next.
void event_open(msgpack_packer *pk, const char *type, const char *subject, size_t subject_len,
                const rp_scope_t *scope);

void event_test(void);

#endif
