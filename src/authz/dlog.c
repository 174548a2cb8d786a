/*
 * dlog.c: the decision log, an NDJSON file appended by a thread of its
 * own.
 *
 * A decision hands its record to zt_dlog_submit, which draws the sample,
 * removes the masked fields and serialises the record into its line on
 * the decision's own thread (the record's nodes are allocated, read and
 * freed by one thread: handing the tree over made the writer free tens
 * of chunks per record into the workers' malloc arenas, under their
 * locks).  The line goes onto a bounded ring under a mutex held for a
 * few instructions (the writer holds it only to take the whole ring's
 * contents), and the writer, signalled, lets a burst gather for up to
 * GATHER_US before it takes it.  When the ring is full the line is
 * dropped and counted: a slow disk costs log lines, never decision
 * latency.  The writer takes up to 256 lines at a time and writes them
 * with one write(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authz/authz_int.h"
#include "base/base.h"

/* How long the writer lets records gather after a wake-up: far below
 * any reader's interest in the file, long enough for a busy server's
 * decisions to share a write. */
#define GATHER_US 2000

struct zt_dlog {
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* records waiting, or stopping */
	pthread_cond_t idle;		/* the writer emptied the ring */
	char **ring;			/* lines, without their newline */
	size_t cap, head, len;
	bool stop, busy;
	pthread_t thread;
	int fd;
	char *path;
	atomic_bool reopen;		/* zt_dlog_reopen asked */
	double sample;
	char *mask[ZT_DLOG_MASK_MAX];
	size_t nmask;
	_Atomic uint64_t queued, written, dropped, failed;
};

/* A per-thread generator for the sample: xorshift64*, seeded once. */
static _Thread_local uint64_t rng_state;

static double
rng_next(void)
{
	uint64_t x = rng_state;

	if (x == 0 && (zt_random(&x, sizeof(x)) < 0 || x == 0))
		x = (uint64_t)zt_mono_us() | 1;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

/* Removes every member named in the mask, at any depth. */
static void
mask_fields(const zt_dlog *dl, json_t *v, int depth)
{
	const char *key;
	json_t *m;
	void *tmp;
	size_t i;

	if (depth > 64)
		return;
	if (json_is_object(v)) {
		for (i = 0; i < dl->nmask; i++)
			json_object_del(v, dl->mask[i]);
		json_object_foreach_safe(v, tmp, key, m)
			mask_fields(dl, m, depth + 1);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			mask_fields(dl, m, depth + 1);
	}
}

/* Appends one line to the batch being built. */
static void
add_line(zt_dlog *dl, zt_buf *out, char *line)
{
	if (zt_buf_adds(out, line) < 0 || zt_buf_addc(out, '\n') < 0)
		atomic_fetch_add(&dl->failed, 1);
	free(line);
}

static int
open_log(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

/* On the writer thread: the file again by its name, after a rotation
 * moved the old one away.  A failure keeps the old descriptor. */
static void
reopen_log(zt_dlog *dl)
{
	int fd = open_log(dl->path);

	if (fd < 0) {
		log_warn("cannot reopen the decision log", ZS("path",
		    dl->path), ZS("error", strerror(errno)));
		return;
	}
	close(dl->fd);
	dl->fd = fd;
	log_info("decision log reopened", ZS("path", dl->path));
}

/* Writes a batch of lines with as few write(2) calls as it takes. */
static void
write_batch(zt_dlog *dl, zt_buf *out, size_t lines)
{
	size_t off = 0;
	ssize_t w;

	if (atomic_exchange(&dl->reopen, false))
		reopen_log(dl);

	while (off < out->len) {
		w = write(dl->fd, out->data + off, out->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			atomic_fetch_add(&dl->failed, lines);
			zt_buf_reset(out);
			return;
		}
		off += (size_t)w;
	}
	atomic_fetch_add(&dl->written, lines);
	zt_buf_reset(out);
}

static void *
writer_main(void *arg)
{
	static const struct timespec gather = { 0, GATHER_US * 1000L };
	zt_dlog *dl = arg;
	zt_buf out = ZT_BUF_INIT(64u << 20);
	char *batch[256];
	size_t n, i;

	pthread_mutex_lock(&dl->mu);
	for (;;) {
		while (dl->len == 0 && !dl->stop) {
			dl->busy = false;
			pthread_cond_broadcast(&dl->idle);
			pthread_cond_wait(&dl->cv, &dl->mu);
		}
		if (dl->len == 0 && dl->stop)
			break;
		dl->busy = true;
		/* Woken by the first record of a burst: let the burst
		 * gather for a moment, so that one wake-up and one write
		 * serve many decisions instead of one each.  Submitters do
		 * not signal meanwhile (the ring is not empty). */
		if (dl->len < ZT_ARRAY_LEN(batch) / 4 && !dl->stop) {
			pthread_mutex_unlock(&dl->mu);
			nanosleep(&gather, NULL);
			pthread_mutex_lock(&dl->mu);
		}
		for (n = 0; n < ZT_ARRAY_LEN(batch) && dl->len > 0; n++) {
			batch[n] = dl->ring[dl->head];
			dl->head = (dl->head + 1) % dl->cap;
			dl->len--;
		}
		pthread_mutex_unlock(&dl->mu);
		for (i = 0; i < n; i++)
			add_line(dl, &out, batch[i]);
		write_batch(dl, &out, n);
		pthread_mutex_lock(&dl->mu);
	}
	dl->busy = false;
	pthread_cond_broadcast(&dl->idle);
	pthread_mutex_unlock(&dl->mu);
	free(out.data);
	return NULL;
}

static int
parse_mask(zt_dlog *dl, const char *mask)
{
	const char *p = mask, *c;
	size_t n;

	while (p != NULL && *p != '\0') {
		c = strchr(p, ',');
		n = c != NULL ? (size_t)(c - p) : strlen(p);
		if (n > 0) {
			if (dl->nmask == ZT_DLOG_MASK_MAX)
				return zt_error_set(ZT_EINVAL, "the decision "
				    "log mask names over %d fields",
				    ZT_DLOG_MASK_MAX);
			if ((dl->mask[dl->nmask++] = strndup(p, n)) == NULL)
				return ZT_ENOMEM;
		}
		p = c != NULL ? c + 1 : NULL;
	}
	return ZT_OK;
}

static void
dlog_free(zt_dlog *dl)
{
	size_t i;

	for (i = 0; i < dl->nmask; i++)
		free(dl->mask[i]);
	if (dl->fd >= 0)
		close(dl->fd);
	free(dl->path);
	pthread_cond_destroy(&dl->cv);
	pthread_cond_destroy(&dl->idle);
	pthread_mutex_destroy(&dl->mu);
	free(dl->ring);
	free(dl);
}

int
zt_dlog_open(zt_dlog **out, const zt_dlog_config *cfg)
{
	zt_dlog *dl;
	int err;

	*out = NULL;
	if (!(cfg->sample >= 0.0 && cfg->sample <= 1.0))
		return zt_error_set(ZT_EINVAL, "the decision log sample rate "
		    "must be from 0 to 1");
	if ((dl = calloc(1, sizeof(*dl))) == NULL)
		return ZT_ENOMEM;
	dl->fd = -1;
	pthread_mutex_init(&dl->mu, NULL);
	pthread_cond_init(&dl->cv, NULL);
	pthread_cond_init(&dl->idle, NULL);
	dl->sample = cfg->sample;
	dl->cap = cfg->queue_max ? cfg->queue_max : ZT_DLOG_QUEUE_DEFAULT;
	if ((dl->ring = calloc(dl->cap, sizeof(*dl->ring))) == NULL) {
		dlog_free(dl);
		return ZT_ENOMEM;
	}
	if ((err = parse_mask(dl, cfg->mask)) < 0) {
		dlog_free(dl);
		return err;
	}
	if ((dl->path = strdup(cfg->path)) == NULL) {
		dlog_free(dl);
		return ZT_ENOMEM;
	}
	dl->fd = open_log(cfg->path);
	if (dl->fd < 0) {
		err = zt_error_set(ZT_ERR, "%s: %s", cfg->path,
		    strerror(errno));
		dlog_free(dl);
		return err;
	}
	if (pthread_create(&dl->thread, NULL, writer_main, dl) != 0) {
		dlog_free(dl);
		return zt_error_set(ZT_ERR, "cannot start the decision log "
		    "writer");
	}
	*out = dl;
	return ZT_OK;
}

void
zt_dlog_reopen(zt_dlog *dl)
{
	if (dl != NULL)
		atomic_store(&dl->reopen, true);
}

void
zt_dlog_close(zt_dlog *dl)
{
	if (dl == NULL)
		return;
	pthread_mutex_lock(&dl->mu);
	dl->stop = true;
	pthread_cond_signal(&dl->cv);
	pthread_mutex_unlock(&dl->mu);
	pthread_join(dl->thread, NULL);
	dlog_free(dl);
}

void
zt_dlog_submit(zt_dlog *dl, json_t *record)
{
	char *line;
	bool full;

	if (dl == NULL || record == NULL || dl->sample <= 0.0 ||
	    (dl->sample < 1.0 && rng_next() >= dl->sample)) {
		json_decref(record);
		return;
	}
	mask_fields(dl, json_object_get(record, "request"), 0);
	line = json_dumps(record, JSON_COMPACT);
	json_decref(record);
	if (line == NULL) {
		atomic_fetch_add(&dl->failed, 1);
		return;
	}
	pthread_mutex_lock(&dl->mu);
	full = dl->len == dl->cap;
	if (!full) {
		dl->ring[(dl->head + dl->len) % dl->cap] = line;
		/* The writer drains the ring before it waits, so only the
		 * record that makes it non-empty needs to wake it. */
		if (dl->len++ == 0)
			pthread_cond_signal(&dl->cv);
	}
	pthread_mutex_unlock(&dl->mu);
	if (full) {
		atomic_fetch_add(&dl->dropped, 1);
		free(line);
	} else
		atomic_fetch_add(&dl->queued, 1);
}

void
zt_dlog_stats_get(const zt_dlog *dl, zt_dlog_stats *out)
{
	zt_dlog *d = (zt_dlog *)(uintptr_t)dl;

	memset(out, 0, sizeof(*out));
	if (d == NULL)
		return;
	out->queued = atomic_load(&d->queued);
	out->written = atomic_load(&d->written);
	out->dropped = atomic_load(&d->dropped);
	out->failed = atomic_load(&d->failed);
}

void
zt_dlog_flush(zt_dlog *dl)
{
	pthread_mutex_lock(&dl->mu);
	while (dl->len > 0 || dl->busy)
		pthread_cond_wait(&dl->idle, &dl->mu);
	pthread_mutex_unlock(&dl->mu);
}
