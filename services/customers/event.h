/*  event.h — how the customers service writes an event (docs/events.md):
    the envelope {type, id, source, subject, actor, data} every customer.*
    event opens with, and the ids the service makes for new records.

    The actor is packed from the checked scope (scope.h), not copied from
    the request: only {user, role, team} reach the journal. Used by every
    writer (handlers.c, relations.c, import.c), so their events agree.
*/
#ifndef CUSTOMERS_EVENT_H
#define CUSTOMERS_EVENT_H

#include "scope.h"

#define EVENT_ID_SIZE 21 //  a new id's 20 hex digits and NUL

//  Open an event map with its envelope up to the key "data"; the caller
//  packs data's value next.
void event_open(msgpack_packer *pk, const char *type, const char *subject, size_t subject_len,
                const scope_t *scope);

//  A new record id: sortable by creation (12 hex digits of milliseconds)
//  and unique (8 random hex digits).
void event_new_id(char id[EVENT_ID_SIZE]);

void event_test(void);

#endif
