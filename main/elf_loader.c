#include "elf_loader.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "layout.h"
#include "util.h"

#define NOTE_ALIGN 4 /* the kernel's ELFNOTE() uses .balign 4 */

bool elf_loader_probe(const uint8_t *k, size_t len)
{
	return len >= SELFMAG && memcmp(k, ELFMAG, SELFMAG) == 0;
}

/* The file may be unaligned: copy headers out instead of casting. */
static void read_phdr(const uint8_t *k, const Elf64_Ehdr *eh, unsigned int i, Elf64_Phdr *ph)
{
	memcpy(ph, k + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

static int check_ident(const uint8_t *k, size_t len, char *err, size_t errlen)
{
	if (!elf_loader_probe(k, len) || len < EI_NIDENT)
		return boot_error(err, errlen, -EINVAL, "truncated ELF: %zu bytes", len);
	if (k[EI_CLASS] != ELFCLASS64)
		return boot_error(
		    err, errlen, -EINVAL,
		    "ELF class %u is not supported: need a 64-bit (ELFCLASS64) vmlinux",
		    k[EI_CLASS]);
	if (k[EI_DATA] != ELFDATA2LSB)
		return boot_error(err, errlen, -EINVAL, "ELF is not little-endian");
	if (len < sizeof(Elf64_Ehdr))
		return boot_error(err, errlen, -EINVAL,
				  "truncated ELF: %zu bytes, the ELF header needs %zu", len,
				  sizeof(Elf64_Ehdr));
	return 0;
}

static int check_ehdr(const Elf64_Ehdr *eh, size_t len, char *err, size_t errlen)
{
	uint64_t end;

	if (eh->e_machine != EM_X86_64)
		return boot_error(err, errlen, -EINVAL, "ELF machine %u is not x86-64 (%u)",
				  eh->e_machine, EM_X86_64);
	if (eh->e_type != ET_EXEC)
		return boot_error(err, errlen, -EINVAL,
				  "ELF type %u is not an executable (ET_EXEC)", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum == PN_XNUM)
		return boot_error(err, errlen, -EINVAL,
				  "ELF has no usable program headers (%u of %u bytes)", eh->e_phnum,
				  eh->e_phentsize);
	if (__builtin_add_overflow(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), &end) ||
	    end > len)
		return boot_error(
		    err, errlen, -EINVAL,
		    "truncated ELF: program headers past the end of the file (%zu bytes)", len);
	return 0;
}

static int check_phdr(const Elf64_Phdr *ph, unsigned int i, size_t len, char *err, size_t errlen)
{
	uint64_t end;

	if (ph->p_type != PT_LOAD && ph->p_type != PT_NOTE)
		return 0;
	if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &end) || end > len)
		return boot_error(err, errlen, -EINVAL,
				  "truncated ELF: segment %u (0x%llx bytes at offset 0x%llx) runs "
				  "past the end of the file (%zu bytes)",
				  i, (unsigned long long)ph->p_filesz,
				  (unsigned long long)ph->p_offset, len);
	if (ph->p_type == PT_LOAD && ph->p_filesz > ph->p_memsz)
		return boot_error(err, errlen, -EINVAL,
				  "bad ELF: segment %u has more file bytes than memory bytes", i);
	return 0;
}

int elf_loader_check(const uint8_t *k, size_t len, char *err, size_t errlen)
{
	unsigned int i, nload = 0;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int ret;

	ret = check_ident(k, len, err, errlen);
	if (ret)
		return ret;
	memcpy(&eh, k, sizeof(eh));
	ret = check_ehdr(&eh, len, err, errlen);
	if (ret)
		return ret;
	for (i = 0; i < eh.e_phnum; i++) {
		read_phdr(k, &eh, i, &ph);
		ret = check_phdr(&ph, i, len, err, errlen);
		if (ret)
			return ret;
		nload += ph.p_type == PT_LOAD;
	}
	if (!nload)
		return boot_error(err, errlen, -EINVAL, "ELF has no PT_LOAD segment");
	return 0;
}

/* The note's address: _ASM_PTR, a .quad on x86-64 and a .long on 32-bit builds. */
static int note_entry(const uint8_t *desc, uint32_t descsz, uint64_t *entry)
{
	uint32_t e32;
	uint64_t e64;

	if (descsz == sizeof(e64)) {
		memcpy(&e64, desc, sizeof(e64));
	} else if (descsz == sizeof(e32)) {
		memcpy(&e32, desc, sizeof(e32));
		e64 = e32;
	} else {
		return -ENOENT;
	}
	/* a 32-bit entry, and nothing is ever loaded at 0 */
	if (e64 == 0 || e64 >= MEM_HOLE_END)
		return -ENOENT;
	*entry = e64;
	return 0;
}

/* Walks the notes in [off, end) of the file; returns 0 with the PVH entry, or -ENOENT. */
static int find_note(const uint8_t *k, uint64_t off, uint64_t end, uint64_t *entry)
{
	Elf64_Nhdr nh;
	uint64_t name, desc, next;

	while (end - off >= sizeof(nh)) {
		memcpy(&nh, k + off, sizeof(nh));
		name = off + sizeof(nh);
		desc = name + ALIGN_UP((uint64_t)nh.n_namesz, NOTE_ALIGN);
		next = desc + ALIGN_UP((uint64_t)nh.n_descsz, NOTE_ALIGN);
		if (next > end)
			return -ENOENT;
		if (nh.n_type == ELF_NOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(k + name, "Xen", 4) == 0)
			return note_entry(k + desc, nh.n_descsz, entry);
		off = next;
	}
	return -ENOENT;
}

int elf_loader_pvh_entry(const uint8_t *k, size_t len, uint64_t *entry)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	unsigned int i;

	if (elf_loader_check(k, len, NULL, 0))
		return -ENOENT;
	memcpy(&eh, k, sizeof(eh));
	for (i = 0; i < eh.e_phnum; i++) {
		read_phdr(k, &eh, i, &ph);
		if (ph.p_type != PT_NOTE)
			continue;
		if (find_note(k, ph.p_offset, ph.p_offset + ph.p_filesz, entry) == 0)
			return 0;
	}
	return -ENOENT;
}

static int load_segment(struct guest_mem *m, const uint8_t *k, const Elf64_Phdr *ph, unsigned int i,
			char *err, size_t errlen)
{
	uint64_t end;
	uint8_t *dst;

	if (ph->p_paddr < HIMEM_START)
		return boot_error(err, errlen, -EINVAL,
				  "ELF segment %u at 0x%llx overlaps the boot area below 1 MiB", i,
				  (unsigned long long)ph->p_paddr);
	dst = guest_mem_ptr(m, ph->p_paddr, ph->p_memsz);
	if (!dst || __builtin_add_overflow(ph->p_paddr, ph->p_memsz, &end))
		return boot_error(err, errlen, -E2BIG,
				  "ELF segment %u (0x%llx bytes at 0x%llx) is outside the guest's "
				  "%llu MiB of RAM",
				  i, (unsigned long long)ph->p_memsz,
				  (unsigned long long)ph->p_paddr,
				  (unsigned long long)(m->size >> 20));
	memcpy(dst, k + ph->p_offset, ph->p_filesz);
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

/*
 * e_entry is physical in a vmlinux (ENTRY(phys_startup_64)); other kernels may give a virtual
 * one, which we translate through the segment that contains it.
 */
static int entry_paddr(const uint8_t *k, const Elf64_Ehdr *eh, uint64_t *entry)
{
	uint64_t e = eh->e_entry;
	Elf64_Phdr ph;
	unsigned int i, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < eh->e_phnum; i++) {
			uint64_t base;

			read_phdr(k, eh, i, &ph);
			base = pass == 0 ? ph.p_paddr : ph.p_vaddr;
			if (ph.p_type != PT_LOAD || e < base || e - base >= ph.p_memsz)
				continue;
			*entry = ph.p_paddr + (e - base);
			return 0;
		}
	}
	return -ENOENT;
}

static int load_segments(struct guest_mem *m, const uint8_t *k, const Elf64_Ehdr *eh,
			 struct elf_kernel *out, char *err, size_t errlen)
{
	Elf64_Phdr ph;
	unsigned int i;
	int ret;

	out->start = UINT64_MAX;
	out->end = 0;
	for (i = 0; i < eh->e_phnum; i++) {
		read_phdr(k, eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		ret = load_segment(m, k, &ph, i, err, errlen);
		if (ret)
			return ret;
		out->start = MIN(out->start, ph.p_paddr);
		out->end = MAX(out->end, ph.p_paddr + ph.p_memsz);
	}
	if (out->end == 0)
		return boot_error(err, errlen, -EINVAL, "ELF has only empty PT_LOAD segments");
	return 0;
}

int elf_loader_load(struct guest_mem *m, const uint8_t *k, size_t len, struct elf_kernel *out,
		    char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	uint64_t pvh;
	int ret;

	ret = elf_loader_check(k, len, err, errlen);
	if (ret)
		return ret;
	memcpy(&eh, k, sizeof(eh));
	memset(out, 0, sizeof(*out));
	if (entry_paddr(k, &eh, &out->entry))
		return boot_error(err, errlen, -EINVAL,
				  "ELF entry point 0x%llx is in no PT_LOAD segment",
				  (unsigned long long)eh.e_entry);
	ret = load_segments(m, k, &eh, out, err, errlen);
	if (ret)
		return ret;
	if (elf_loader_pvh_entry(k, len, &pvh))
		return 0;
	if (pvh < out->start || pvh >= out->end)
		return boot_error(err, errlen, -EINVAL,
				  "PVH entry point 0x%llx is outside the loaded kernel",
				  (unsigned long long)pvh);
	out->pvh_entry = pvh;
	return 0;
}
