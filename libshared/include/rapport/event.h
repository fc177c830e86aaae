/*  event.h — how a service writes an event (docs/events.md): the envelope
    {type, id, source, subject, actor, data} every service event opens
    with, the same in every service.

    The id is a new UUID (rapport/random.h); the actor is packed from the
    checked scope (rp_scope_pack), not copied from the request, so only
    {user, role, team} reach the journal.
*/
#ifndef RAPPORT_EVENT_H
#define RAPPORT_EVENT_H

#include <rapport/scope.h>

#include <msgpack.h>

//  Open an event map with its envelope up to the key "data"; the caller
//  packs data's value next. source is the service ("customers"); actor
//  NULL for a writer's own event (a clock's, a sweep's): no "actor" key.
void rp_event_open(msgpack_packer *pk, const char *type, const char *source, const char *subject,
                   size_t subject_len, const rp_scope_t *actor);

void rp_event_test(void);

#endif
