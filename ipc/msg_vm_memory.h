/*
 * The mem tube (shared/DESIGN.md, "Tubes"): the device asks, main answers. A device sends
 * struct vm_memory_request (DESIGN's VmMemoryRequest), main answers with struct
 * vm_memory_response. The decoder checks each field on its own; whether the device owns what it
 * names (its shared memory window, its notify addresses, guest RAM) is main's to check.
 * Wire format: msg.h.
 */
#ifndef VMM_IPC_MSG_VM_MEMORY_H
#define VMM_IPC_MSG_VM_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* Ranges one Free or Reclaim request names. */
#define MSG_VM_MEMORY_MAX_RANGES 64
/* virtio shared memory region ids are 8 bits (virtio 1.2, 2.10). */
#define MSG_VM_MEMORY_SHMID_MAX 0xff

enum msg_vm_memory_type {
	/* device -> main, DESIGN's VmMemoryRequest variants in order */
	MSG_VM_MEMORY_PREPARE_SHARED_REGION = 0x0201, /* PrepareSharedMemoryRegion */
	MSG_VM_MEMORY_REGISTER = 0x0202,	      /* RegisterMemory */
	MSG_VM_MEMORY_MMAP_AND_REGISTER = 0x0203,     /* MmapAndRegisterMemory */
	MSG_VM_MEMORY_FREE_RANGES = 0x0204,	      /* DynamicallyFreeMemoryRanges */
	MSG_VM_MEMORY_RECLAIM_RANGES = 0x0205,	      /* DynamicallyReclaimMemoryRanges */
	MSG_VM_MEMORY_BALLOON_TARGET_REACHED = 0x0206,
	MSG_VM_MEMORY_UNREGISTER = 0x0207, /* UnregisterMemory */
	MSG_VM_MEMORY_IOEVENT_RAW = 0x0208,
	/* device -> main, not in DESIGN's list: a notice that the guest broke a ring */
	MSG_VM_MEMORY_NEEDS_RESET = 0x0209,
	/* main -> device */
	MSG_VM_MEMORY_RESPONSE = 0x0281,   /* status; answers anything, and any failure */
	MSG_VM_MEMORY_REGISTERED = 0x0282, /* answers REGISTER and MMAP_AND_REGISTER */
};

enum msg_vm_memory_cache {
	MSG_VM_MEMORY_CACHE_COHERENT = 0,
	MSG_VM_MEMORY_CACHE_NONCOHERENT = 1,
};

/* prot bits: a non-empty subset */
#define MSG_VM_MEMORY_PROT_READ 0x1u
#define MSG_VM_MEMORY_PROT_WRITE 0x2u

/* Asks main to reserve the device's shared memory window shmid (a BAR range) of size bytes. */
struct msg_vm_memory_prepare {
	uint32_t shmid; /* 0..MSG_VM_MEMORY_SHMID_MAX */
	uint32_t cache; /* enum msg_vm_memory_cache */
	uint64_t size;	/* page-aligned, > 0 */
};
_Static_assert(sizeof(struct msg_vm_memory_prepare) == 16, "prepare");

/* Maps [fd_offset, +size) of the fd that rides along at dest inside window shmid. */
struct msg_vm_memory_register {
	uint64_t dest; /* offset in the window; dest, size and fd_offset page-aligned */
	uint64_t size;
	uint64_t fd_offset;
	uint32_t shmid;
	uint32_t prot;
};
_Static_assert(sizeof(struct msg_vm_memory_register) == 32, "register");

/* Main mmaps the shared memory fd that rides along and maps it at dest inside window shmid. */
struct msg_vm_memory_mmap {
	uint64_t dest;
	uint64_t size;
	uint32_t shmid;
	uint32_t prot;
};
_Static_assert(sizeof(struct msg_vm_memory_mmap) == 24, "mmap");

struct msg_vm_memory_range {
	uint64_t gpa; /* page-aligned */
	uint64_t len; /* page-aligned, > 0, gpa + len does not wrap */
};
_Static_assert(sizeof(struct msg_vm_memory_range) == 16, "range");

struct msg_vm_memory_ranges {
	uint32_t nranges; /* 1..MSG_VM_MEMORY_MAX_RANGES */
	uint32_t pad;
	struct msg_vm_memory_range ranges[MSG_VM_MEMORY_MAX_RANGES]; /* zero from nranges on */
};
_Static_assert(sizeof(struct msg_vm_memory_ranges) == 1032, "ranges");

struct msg_vm_memory_balloon {
	uint64_t bytes; /* the balloon's size now; page-aligned */
};
_Static_assert(sizeof(struct msg_vm_memory_balloon) == 8, "balloon");

/* UNREGISTER's and REGISTERED's body. */
struct msg_vm_memory_slot {
	uint32_t slot; /* main's handle of a registered mapping */
	uint32_t pad;
};
_Static_assert(sizeof(struct msg_vm_memory_slot) == 8, "slot");

/* The guest broke queue `queue`'s ring: main sets DEVICE_NEEDS_RESET in the transport. */
struct msg_vm_memory_needs_reset {
	uint32_t queue; /* < MSG_DEVICE_MAX_QUEUES (16) */
	uint32_t pad;
};
_Static_assert(sizeof(struct msg_vm_memory_needs_reset) == 8, "needs_reset");

/* (Un)registers the eventfd that rides along as an ioeventfd (KVM_IOEVENTFD) at addr. */
struct msg_vm_memory_ioevent {
	uint64_t addr;
	uint64_t datamatch;    /* fits in len bytes; 0 unless has_datamatch */
	uint32_t len;	       /* 0 (any access; then no datamatch), 1, 2, 4 or 8 */
	uint8_t has_datamatch; /* 0 or 1 */
	uint8_t assign;	       /* 1: register, 0: unregister */
	uint16_t pad;
};
_Static_assert(sizeof(struct msg_vm_memory_ioevent) == 24, "ioevent");

struct msg_vm_memory_status {
	int32_t status; /* 0, or -errno */
	uint32_t pad;
};
_Static_assert(sizeof(struct msg_vm_memory_status) == 8, "status");

struct vm_memory_request {
	struct msg_hdr hdr;
	union {
		struct msg_vm_memory_prepare prepare;
		struct msg_vm_memory_register reg;
		struct msg_vm_memory_mmap mmap;
		struct msg_vm_memory_ranges ranges; /* FREE_RANGES and RECLAIM_RANGES */
		struct msg_vm_memory_balloon balloon;
		struct msg_vm_memory_slot unregister;
		struct msg_vm_memory_ioevent ioevent;
		struct msg_vm_memory_needs_reset needs_reset;
	};
};
_Static_assert(offsetof(struct vm_memory_request, ranges) == sizeof(struct msg_hdr), "body");
_Static_assert(sizeof(struct vm_memory_request) <= MSG_MAX_SIZE, "request size");

struct vm_memory_response {
	struct msg_hdr hdr;
	union {
		struct msg_vm_memory_status status;
		struct msg_vm_memory_slot registered;
	};
};
_Static_assert(offsetof(struct vm_memory_response, status) == sizeof(struct msg_hdr), "body");

/* Codecs: see msg_decode() and msg_encode() for the errors. */
int msg_vm_memory_decode_request(const void *buf, size_t len, unsigned int nfds,
				 struct vm_memory_request *out);
int msg_vm_memory_encode_request(const struct vm_memory_request *m, unsigned int nfds, void *buf,
				 size_t cap, size_t *len);
int msg_vm_memory_decode_response(const void *buf, size_t len, unsigned int nfds,
				  struct vm_memory_response *out);
int msg_vm_memory_encode_response(const struct vm_memory_response *m, unsigned int nfds, void *buf,
				  size_t cap, size_t *len);
/* Makes r a RESPONSE carrying err: 0, or -errno (anything else becomes -EIO). */
void msg_vm_memory_status(struct vm_memory_response *r, int err);
const char *msg_vm_memory_name(uint32_t type);

#endif
