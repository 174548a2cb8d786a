/*
 * password_bench: how many password verifications per second Argon2id
 * allows on this machine, at the default cost (m=19456 KiB, t=2, p=1) or
 * the cost given, on one thread and on every core at once.  A login is
 * one verification (plus a rehash when the cost changed), so this bounds
 * password logins per second by design.  Asserts nothing.
 *
 *   password_bench [SECONDS [M_KIB T P]]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authn/authn.h"
#include "base/base.h"

static zt_argon2_params prm = { ZT_ARGON2_M_DEFAULT, ZT_ARGON2_T_DEFAULT,
    ZT_ARGON2_P_DEFAULT };
static char phc[ZT_PHC_MAX];
static double seconds = 3.0;

struct run {
	pthread_t t;
	long done;
	double us_max;
};

static void *
verify_loop(void *arg)
{
	struct run *r = arg;
	int64_t t0 = zt_mono_us(), t, last = t0;

	while ((t = zt_mono_us()) - t0 < (int64_t)(seconds * 1e6)) {
		if (zt_password_check(phc, "correct horse battery", 21, NULL,
		    NULL) != ZT_OK) {
			fprintf(stderr, "verification failed\n");
			exit(1);
		}
		r->done++;
		t = zt_mono_us();
		if (t - last > r->us_max)
			r->us_max = (double)(t - last);
		last = t;
	}
	return NULL;
}

static double
measure(int threads, double *us_max)
{
	struct run *runs = calloc((size_t)threads, sizeof(*runs));
	long total = 0;
	int i;

	*us_max = 0;
	for (i = 0; i < threads; i++)
		pthread_create(&runs[i].t, NULL, verify_loop, &runs[i]);
	for (i = 0; i < threads; i++) {
		pthread_join(runs[i].t, NULL);
		total += runs[i].done;
		if (runs[i].us_max > *us_max)
			*us_max = runs[i].us_max;
	}
	free(runs);
	return total / seconds;
}

int
main(int argc, char **argv)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	double rate, us_max;

	int64_t m = prm.m_kib, t = prm.t, p = prm.p;

	if (argc > 1)
		seconds = strtod(argv[1], NULL);
	if (argc > 4 && (zt_parse_i64(argv[2], 8, 4194304, &m) < 0 ||
	    zt_parse_i64(argv[3], 1, 64, &t) < 0 ||
	    zt_parse_i64(argv[4], 1, 64, &p) < 0)) {
		fprintf(stderr, "usage: password_bench [SECONDS "
		    "[M_KIB T P]]\n");
		return 2;
	}
	prm = (zt_argon2_params){ (uint32_t)m, (uint32_t)t, (uint32_t)p };
	if (seconds <= 0 || zt_password_hash(phc, &prm,
	    "correct horse battery", 21) != ZT_OK) {
		fprintf(stderr, "password_bench: %s\n", zt_error_msg());
		return 1;
	}
	printf("| Argon2id m=%u KiB t=%u p=%u | threads | verifications/s "
	    "| slowest one (ms) |\n|---|---|---|---|\n", prm.m_kib, prm.t,
	    prm.p);
	rate = measure(1, &us_max);
	printf("| one core | 1 | %.1f | %.1f |\n", rate, us_max / 1000);
	if (cores > 1) {
		rate = measure((int)cores, &us_max);
		printf("| every core | %ld | %.1f | %.1f |\n", cores, rate,
		    us_max / 1000);
	}
	return 0;
}
