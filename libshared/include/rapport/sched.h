/*  sched.h — the scheduling policy a Rapport process runs under.

    A write crosses three processes and eight ZeroMQ messages, each handed
    between a main thread and an I/O thread on both sides. Under Linux's
    default policy (SCHED_OTHER) every such hand-off wakes the receiving
    thread and usually preempts the sender at once, so on a small machine
    each thread runs for one message at a time and the CPU goes to context
    switches. Under SCHED_BATCH a woken thread does not preempt the running
    one: it runs when the sender blocks or its slice ends, by which time
    more messages are waiting, and it handles them in one turn. Nothing
    else changes: a woken thread on an idle CPU still runs at once, so a
    lone request is not delayed. Measured with make bench on the 2-core
    development VM: POST CPU per request -27 %, throughput +22 %
    (docs/decisions.md, "Fourth pass").

    The policy is "sched/policy" (RAPPORT_SCHED_POLICY): "batch" (the
    default) or "normal" (SCHED_OTHER). Any process may choose either; no
    privilege or container capability is needed. It is set on the calling
    thread and inherited by the threads created after it, so call it
    before the first ZeroMQ socket (which starts the I/O thread).
*/
#ifndef RAPPORT_SCHED_H
#define RAPPORT_SCHED_H

#include <rapport/config.h>

//  Apply the configured policy to the calling thread. Returns 0, or -1 for
//  an unknown value (logged). A refusal by the system (a seccomp profile,
//  say) is logged as a warning and the current policy kept: it is a matter
//  of speed, not of correctness.
int rp_sched_init(rp_config_t *config);

void rp_sched_test(void);

#endif
