/*
 * Guest RAM: one memfd (sealed against resize), mapped once in main, registered with KVM as up
 * to two slots: [0, low_size) and [4 GiB, 4 GiB + high_size). In the memfd the high part
 * follows the low part.
 */
#ifndef VMM_MAIN_MEMORY_H
#define VMM_MAIN_MEMORY_H

#include <stddef.h>
#include <stdint.h>

struct guest_mem {
	int fd;		   /* the memfd; owned */
	uint8_t *host;	   /* mapping of the whole memfd */
	uint64_t size;	   /* total RAM bytes */
	uint64_t low_size; /* RAM below MEM_HOLE_START */
	uint64_t high_size; /* RAM from MEM_HOLE_END */
};

/* Creates the memfd and its mapping. Returns 0 or -errno. Does not talk to KVM. */
int guest_mem_init(struct guest_mem *m, uint64_t size);
/* Registers the slots with KVM. */
int guest_mem_register(struct guest_mem *m, int vm_fd);
void guest_mem_destroy(struct guest_mem *m);

/* The host pointer for [gpa, gpa + len), or NULL when any byte of it is not RAM. */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/*
 * For tests and tools: wrap an existing buffer as guest memory (fd -1), laid out as
 * guest_mem_init would lay it.
 */
void guest_mem_wrap(struct guest_mem *m, uint8_t *buf, uint64_t size);

#endif
