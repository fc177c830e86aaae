/*  sched.c — see sched.h. */
#include <rapport/log.h>
#include <rapport/sched.h>

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

int rp_sched_init(rp_config_t *config)
{
    const char *policy = rp_config_get(config, "sched/policy", "batch");
    int which;
    if (strcmp(policy, "batch") == 0)
        which = SCHED_BATCH;
    else if (strcmp(policy, "normal") == 0)
        which = SCHED_OTHER;
    else {
        rp_error("sched: unknown sched/policy \"%s\" (batch or normal)", policy);
        return -1;
    }
    struct sched_param param = {0};
    if (sched_setscheduler(0, which, &param))
        rp_warn("sched: policy %s refused, keeping the current one: %s", policy, strerror(errno));
    return 0;
}

//  ---------------------------------------------------------------------

void rp_sched_test(void)
{
    rp_config_t *config = rp_config_new("sched-test");
    assert(rp_sched_init(config) == 0); //  the default
    assert(sched_getscheduler(0) == SCHED_BATCH);
    setenv("RAPPORT_SCHED_POLICY", "normal", 1);
    assert(rp_sched_init(config) == 0);
    assert(sched_getscheduler(0) == SCHED_OTHER);
    setenv("RAPPORT_SCHED_POLICY", "fifo", 1);
    assert(rp_sched_init(config) == -1);
    assert(sched_getscheduler(0) == SCHED_OTHER); //  unchanged
    unsetenv("RAPPORT_SCHED_POLICY");
    rp_config_destroy(&config);
}
