/*
 * The control socket (shared/DESIGN.md, "Tubes"): vmm-ctl's requests (struct vm_request, ipc/
 * msg_vm.h) on a Unix SOCK_SEQPACKET socket, served by a thread of their own ("vmm-ctl"), one
 * request and one answer at a time per connection, several connections at once. Only the uid
 * vmm runs as may connect (mode 0600 and SO_PEERCRED). A message that does not decode gets an
 * error answer and its connection is closed; a client that does not read its answers loses
 * them, never holds the VM. Listeners (REGISTER_LISTENER) get events as datagrams on their
 * own socket; one that vanished is dropped.
 *
 * Slow requests (the handler says which: hot-plug, which waits for the guest) are served one at
 * a time by a second thread, the worker, so that they hold up neither the other connections nor
 * the VM: their connection waits for its answer, the others are served meanwhile.
 */
#ifndef VMM_MAIN_CONTROL_H
#define VMM_MAIN_CONTROL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "msg_vm.h"

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_MAX_LISTENERS 16

/*
 * Answers one request (anything but the listener requests, which control.c keeps). *fd is the
 * fd the request carried (HOTPLUG_NET ADD's tap) or -1; the handler takes it by setting *fd to
 * -1, otherwise control.c closes it.
 */
struct control_handler {
	void (*handle)(void *ctx, const struct vm_request *q, int *fd, struct vm_response *r);
	/* true: q is handled on the worker thread (NULL: none is) */
	bool (*slow)(void *ctx, const struct vm_request *q);
	void *ctx;
};

/* A slow request waiting for the worker: its connection is off the epoll set meanwhile. */
struct control_pending {
	int client; /* index into clients[] */
	int fd;	    /* the fd the request carried, or -1 */
	struct vm_request q;
};

struct control_listener {
	bool used;
	uint32_t events;
	char path[MSG_VM_SOCKET_PATH];
};

struct control {
	char path[MSG_VM_SOCKET_PATH];
	int listen_fd;
	int event_fd; /* SOCK_DGRAM, unbound: sends events */
	int epfd;
	int stop_fd;
	int clients[CONTROL_MAX_CLIENTS];
	struct control_handler handler;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock; /* listeners, pending and stopping: both threads, control_event() */
	struct control_listener listeners[CONTROL_MAX_LISTENERS];
	pthread_t worker;
	bool worker_running;
	pthread_cond_t work; /* pending or stopping changed */
	struct control_pending pending[CONTROL_MAX_CLIENTS]; /* FIFO: [0, npending) */
	unsigned int npending;
	bool stopping;
	_Atomic unsigned long served; /* requests answered, for tests and status */
	/* vmm.policy has no unlink: a locked-down vmm leaves its socket file, which the next VM of
	 * that name replaces (a dead VM's socket refuses connections: vmm-ctl says no VM there) */
	bool keep_file;
	uid_t uid; /* vmm's euid, read at open (vmm.policy has no geteuid) */
};

/*
 * Creates the socket at path (its folder made 0700 if missing). A socket file left by a dead VM
 * is replaced; a live VM's is not (-EADDRINUSE, logged). 0 or -errno (logged).
 */
int control_open(struct control *c, const char *path);
/* Starts the thread that serves it. */
int control_start(struct control *c, const struct control_handler *h);
/*
 * Stops both threads (the worker after the request it is serving: its handler must return;
 * the queued ones are dropped), closes every connection, removes the socket file.
 */
void control_close(struct control *c);
/* Sends e to every listener that asked for its kind; callable from any thread. */
void control_event(struct control *c, const struct msg_vm_event *e);

#endif
