/*
 * The wire format shared by every tube (shared/DESIGN.md, "Tubes"): a message is one fixed-size
 * little-endian struct, a struct msg_hdr followed by the body of its type.
 *
 * Each catalogue (msg_device.h, msg_vm_memory.h, msg_vm.h) keeps one struct per body that serves
 * as both its wire and its in-memory form. That is safe because every field is fixed-width, every
 * hole is an explicit pad field that must be zero, there are no pointers, and each size is pinned
 * by _Static_assert: the two forms differ only in byte order. A catalogue's message struct (e.g.
 * struct device_request) is the header plus an anonymous union of its bodies at offset 8; on the
 * wire a message is only as long as its own body, never the whole union.
 *
 * Decoding copies the bytes in, swaps them to host order and checks every field; encoding checks,
 * swaps and copies out. Both dispatch on a table of struct msg_kind, one row per type.
 */
#ifndef VMM_IPC_MSG_H
#define VMM_IPC_MSG_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest message of any catalogue: a buffer of this size receives any of them. */
#define MSG_MAX_SIZE 4096
/* An fd index field that names no fd. */
#define MSG_FD_NONE UINT32_MAX
/* A status field is 0 or -errno, errno in 1..MSG_ERRNO_MAX. */
#define MSG_ERRNO_MAX 4095
/* Guest memory fields are page-granular. */
#define MSG_PAGE_SIZE 4096ULL

struct msg_hdr {
	uint32_t type;
	uint32_t size; /* of the whole message, header included */
};
_Static_assert(sizeof(struct msg_hdr) == 8, "msg_hdr");

/* One row of a catalogue: what a message of this type looks like. */
struct msg_kind {
	uint32_t type;
	const char *name;
	uint32_t body_size;
	/* fds riding along, unless fds_named is set: then the body says how many */
	unsigned int nfds;
	/* little-endian <-> host order, in place; the same operation both ways. NULL: no body */
	void (*swap)(void *body);
	/* range, padding and string checks on a host-order body: 0, -EBADMSG or -ERANGE */
	int (*check)(const void *body);
	/* the fd count a checked body names */
	unsigned int (*fds_named)(const void *body);
};

struct msg_catalogue {
	const struct msg_kind *kinds;
	size_t nkinds;
};

/*
 * Decodes the wire message buf[0..len), which arrived with nfds fds, into out (a catalogue's
 * message struct of out_size bytes). Returns 0, or -EBADMSG (wrong size, non-zero padding, bad
 * string), -ENOMSG (type not in the catalogue), -EPROTO (wrong fd count), -ERANGE (a field out of
 * range). Any bytes at all are safe to pass.
 */
int msg_decode(const struct msg_catalogue *cat, const void *buf, size_t len, unsigned int nfds,
	       void *out, size_t out_size);
/*
 * Encodes msg (a catalogue's message struct; only hdr.type need be set in its header) to wire
 * bytes in buf, *len set to their count. Runs the decoder's checks first, so what is sent is what
 * the peer accepts: the same errors as msg_decode, or -EMSGSIZE if cap is too small.
 */
int msg_encode(const struct msg_catalogue *cat, const void *msg, unsigned int nfds, void *buf,
	       size_t cap, size_t *len);
/* The type's name for logs, or NULL if the catalogue has no such type. */
const char *msg_name(const struct msg_catalogue *cat, uint32_t type);

/* Helpers for the catalogues' swap and check functions. */
static inline void msg_swap16(uint16_t *v)
{
	*v = htole16(*v);
}

static inline void msg_swap32(uint32_t *v)
{
	*v = htole32(*v);
}

static inline void msg_swap64(uint64_t *v)
{
	*v = htole64(*v);
}

static inline void msg_swap_s32(int32_t *v)
{
	*v = (int32_t)htole32((uint32_t)*v);
}

bool msg_is_zero(const void *p, size_t n);
/* A fixed-size string: NUL-terminated within size, zero after the NUL. 0 or -EBADMSG. */
int msg_check_str(const char *s, size_t size);
/* Copies src into a fixed-size string field, zero-filled; -ENAMETOOLONG if it does not fit. */
int msg_set_str(char *dst, size_t size, const char *src);
/* 0 or -ERANGE: a status is 0 or -errno. */
int msg_check_status(int32_t status);
/* A status for the wire: err itself if it is 0 or -errno, else -EIO. */
int32_t msg_status(int err);
/* [start, start + len) is non-empty and does not wrap. */
bool msg_range_ok(uint64_t start, uint64_t len);
/* v is a multiple of MSG_PAGE_SIZE. */
bool msg_page_aligned(uint64_t v);

#endif
