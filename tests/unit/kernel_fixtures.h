/*
 * Fake kernels for the boot unit tests, built from the documented byte offsets (boot.rst, the
 * ELF spec) rather than from our own structs, so that a wrong offset in main/ shows up.
 */
#ifndef VMM_TESTS_KERNEL_FIXTURES_H
#define VMM_TESTS_KERNEL_FIXTURES_H

#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void put8(uint8_t *b, size_t off, uint8_t v)
{
	b[off] = v;
}

static inline void put16(uint8_t *b, size_t off, uint16_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

static inline void put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

static inline void put64(uint8_t *b, size_t off, uint64_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

static inline uint16_t get16(const uint8_t *b, size_t off)
{
	uint16_t v;

	memcpy(&v, b + off, sizeof(v));
	return v;
}

static inline uint32_t get32(const uint8_t *b, size_t off)
{
	uint32_t v;

	memcpy(&v, b + off, sizeof(v));
	return v;
}

static inline uint64_t get64(const uint8_t *b, size_t off)
{
	uint64_t v;

	memcpy(&v, b + off, sizeof(v));
	return v;
}

#define FAKE_BZ_SETUP_SECTS 4
#define FAKE_BZ_SETUP_LEN ((FAKE_BZ_SETUP_SECTS + 1) * 512)
#define FAKE_BZ_PAYLOAD 0x4000
#define FAKE_BZ_LEN (FAKE_BZ_SETUP_LEN + FAKE_BZ_PAYLOAD)
#define FAKE_BZ_PREF 0x1000000ULL
#define FAKE_BZ_INIT_SIZE 0x800000U

static inline uint8_t fake_payload_byte(size_t i)
{
	return (uint8_t)(i * 7 + 0x5a);
}

/* A protocol 2.15 bzImage header followed by a recognisable payload. Caller frees. */
static inline uint8_t *fake_bzimage(size_t *len)
{
	uint8_t *b = calloc(1, FAKE_BZ_LEN);
	size_t i;

	put8(b, 0x1f1, FAKE_BZ_SETUP_SECTS);   /* setup_sects */
	put32(b, 0x1f4, FAKE_BZ_PAYLOAD / 16); /* syssize */
	put16(b, 0x1fe, 0xaa55);	       /* boot_flag */
	put8(b, 0x200, 0xeb);		       /* jump ... */
	put8(b, 0x201, 0x26c - 0x202);	       /* ... whose offset is the header length */
	memcpy(b + 0x202, "HdrS", 4);	       /* header */
	put16(b, 0x206, 0x020f);	       /* version */
	put8(b, 0x211, 0x01);		       /* loadflags: LOADED_HIGH */
	put32(b, 0x214, 0x100000);	       /* code32_start */
	put32(b, 0x22c, 0x7fffffff);	       /* initrd_addr_max */
	put32(b, 0x230, 0x200000);	       /* kernel_alignment */
	put8(b, 0x234, 1);		       /* relocatable_kernel */
	put8(b, 0x235, 21);		       /* min_alignment */
	put16(b, 0x236, 0x3);		       /* xloadflags: KERNEL_64, CAN_BE_LOADED_ABOVE_4G */
	put32(b, 0x238, 2047);		       /* cmdline_size */
	put64(b, 0x258, FAKE_BZ_PREF);	       /* pref_address */
	put32(b, 0x260, FAKE_BZ_INIT_SIZE);    /* init_size */
	for (i = 0; i < FAKE_BZ_PAYLOAD; i++)
		b[FAKE_BZ_SETUP_LEN + i] = fake_payload_byte(i);
	*len = FAKE_BZ_LEN;
	return b;
}

#define FAKE_ELF_PADDR 0x1000000ULL
#define FAKE_ELF_VADDR 0xffffffff81000000ULL
#define FAKE_ELF_DATA_OFF 0x1000
#define FAKE_ELF_FILESZ 0x2000
#define FAKE_ELF_MEMSZ 0x3000
#define FAKE_ELF_NOTE_OFF 0x200
#define FAKE_ELF_PVH_ENTRY (FAKE_ELF_PADDR + 0x180)
#define FAKE_ELF_LEN (FAKE_ELF_DATA_OFF + FAKE_ELF_FILESZ)

struct fake_elf_opts {
	int pvh_descsz; /* 0: no Xen PHYS32_ENTRY note; 4 or 8: with one */
	uint64_t entry; /* 0: FAKE_ELF_PADDR */
};

static inline size_t fake_note(uint8_t *b, size_t off, const char *name, uint32_t type,
			       const void *desc, uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;

	put32(b, off, namesz);
	put32(b, off + 4, descsz);
	put32(b, off + 8, type);
	memcpy(b + off + 12, name, namesz);
	off += 12 + ((namesz + 3) & ~3u);
	memcpy(b + off, desc, descsz);
	return off + ((descsz + 3) & ~3u);
}

/*
 * An ELF64 x86-64 executable: a PT_NOTE (a GNU note, an unrelated Xen note, then optionally
 * the PVH entry note) and one PT_LOAD of FAKE_ELF_FILESZ bytes (memsz FAKE_ELF_MEMSZ) at
 * physical FAKE_ELF_PADDR, virtual FAKE_ELF_VADDR. Caller frees.
 */
static inline uint8_t *fake_elf(const struct fake_elf_opts *o, size_t *len)
{
	uint8_t *b = calloc(1, FAKE_ELF_LEN);
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph[2] = {{0}};
	uint8_t gnu[20] = {1, 2, 3};
	uint32_t other = 0x1234;
	uint64_t e64 = FAKE_ELF_PVH_ENTRY;
	uint32_t e32 = FAKE_ELF_PVH_ENTRY;
	size_t note_end, i;

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = o->entry ? o->entry : FAKE_ELF_PADDR;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 2;

	note_end = fake_note(b, FAKE_ELF_NOTE_OFF, "GNU", 3, gnu, sizeof(gnu));
	note_end = fake_note(b, note_end, "Xen", 6, &other, sizeof(other));
	if (o->pvh_descsz == 8)
		note_end = fake_note(b, note_end, "Xen", 18, &e64, 8);
	else if (o->pvh_descsz == 4)
		note_end = fake_note(b, note_end, "Xen", 18, &e32, 4);

	ph[0].p_type = PT_NOTE;
	ph[0].p_offset = FAKE_ELF_NOTE_OFF;
	ph[0].p_filesz = note_end - FAKE_ELF_NOTE_OFF;
	ph[0].p_align = 4;
	ph[1].p_type = PT_LOAD;
	ph[1].p_flags = PF_R | PF_X;
	ph[1].p_offset = FAKE_ELF_DATA_OFF;
	ph[1].p_vaddr = FAKE_ELF_VADDR;
	ph[1].p_paddr = FAKE_ELF_PADDR;
	ph[1].p_filesz = FAKE_ELF_FILESZ;
	ph[1].p_memsz = FAKE_ELF_MEMSZ;
	ph[1].p_align = 0x200000;

	memcpy(b, &eh, sizeof(eh));
	memcpy(b + sizeof(eh), ph, sizeof(ph));
	for (i = 0; i < FAKE_ELF_FILESZ; i++)
		b[FAKE_ELF_DATA_OFF + i] = fake_payload_byte(i);
	*len = FAKE_ELF_LEN;
	return b;
}

/* The offset in the file of program header i's field at byte off. */
static inline size_t fake_elf_phdr(unsigned int i, size_t off)
{
	return sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr) + off;
}

#endif
