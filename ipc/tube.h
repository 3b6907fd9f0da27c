/*
 * Tubes (shared/DESIGN.md, "Tubes"): one end of a SOCK_SEQPACKET socketpair. Each message is one
 * datagram, its boundaries kept, with up to TUBE_MAX_FDS fds riding along (SCM_RIGHTS).
 *
 * Use is synchronous: whoever sends a request reads the matching response next. Messages carry
 * no sequence number, so after a timeout a late answer would be taken for the next one: treat a
 * peer that timed out as broken (main kills that device).
 *
 * Errors common to all calls: -EPIPE once the peer has closed its end or died (ECONNRESET is
 * reported as -EPIPE too), -ETIMEDOUT when a receive waited timeout_ms for nothing.
 */
#ifndef VMM_IPC_TUBE_H
#define VMM_IPC_TUBE_H

#include <stddef.h>

/* Enough for an ACTIVATE with every queue's eventfds (msg_device.h). */
#define TUBE_MAX_FDS 64

struct tube {
	int fd;
};

/* Two connected ends, both CLOEXEC. 0 or -errno. */
int tube_pair(struct tube *a, struct tube *b);
/* Closes the end; a second call is harmless. */
void tube_close(struct tube *t);

/*
 * Sends msg[0..len) with fds[0..nfds). Our copies of the fds stay ours. Never blocks: in the
 * synchronous pattern the peer's queue holds at most the request it is answering, so a full queue
 * means the peer stopped reading: -EAGAIN. -EINVAL for len 0 or nfds > TUBE_MAX_FDS.
 */
int tube_send(struct tube *t, const void *msg, size_t len, const int *fds, unsigned int nfds);

/*
 * Receives one message into buf[0..cap), *len set to its size, and up to maxfds fds into fds,
 * *nfds set to their count; they are CLOEXEC and the caller's to close. Waits up to timeout_ms
 * (-1: forever, 0: only what is queued); a signal does not cut the wait short. A message longer
 * than cap or carrying more than maxfds fds is consumed and rejected with -EMSGSIZE, and the fds
 * that came with it are closed.
 */
int tube_recv(struct tube *t, void *buf, size_t cap, size_t *len, int *fds, unsigned int maxfds,
	      unsigned int *nfds, int timeout_ms);

/*
 * One round trip: sends req with its fds, then receives the response (which carries no fds) into
 * resp within timeout_ms. Errors of tube_send() and tube_recv().
 */
int tube_call(struct tube *t, const void *req, size_t req_len, const int *fds, unsigned int nfds,
	      void *resp, size_t cap, size_t *resp_len, int timeout_ms);

#endif
