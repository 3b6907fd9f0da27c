/* ELF vmlinux: header validation, the PVH note, loading. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "elf_loader.h"
#include "kernel_fixtures.h"
#include "layout.h"
#include "memory.h"

#define MEM_SIZE (64ULL << 20)
#define LOAD_PADDR fake_elf_phdr(1, offsetof(Elf64_Phdr, p_paddr))
#define LOAD_VADDR fake_elf_phdr(1, offsetof(Elf64_Phdr, p_vaddr))
#define LOAD_MEMSZ fake_elf_phdr(1, offsetof(Elf64_Phdr, p_memsz))
#define LOAD_FILESZ fake_elf_phdr(1, offsetof(Elf64_Phdr, p_filesz))

static char err[256];

static uint8_t *elf(int pvh, size_t *len)
{
	struct fake_elf_opts o = {.pvh_descsz = pvh};

	err[0] = 0;
	return fake_elf(&o, len);
}

static void expect_check(const uint8_t *k, size_t len, int code, const char *what)
{
	cr_assert_eq(elf_loader_check(k, len, err, sizeof(err)), code, "%s", err);
	if (what)
		cr_assert(strstr(err, what), "'%s' not in '%s'", what, err);
}

TestSuite(elf_loader);

Test(elf_loader, good_header_passes)
{
	size_t len;
	uint8_t *k = elf(8, &len);

	cr_assert(elf_loader_probe(k, len));
	expect_check(k, len, 0, NULL);
	free(k);
}

Test(elf_loader, wrong_magic_is_not_elf)
{
	size_t len;
	uint8_t *k = elf(0, &len);

	k[1] = 'F';
	cr_assert_not(elf_loader_probe(k, len));
	expect_check(k, len, -EINVAL, NULL);
	free(k);
}

Test(elf_loader, truncated_header)
{
	size_t len;
	uint8_t *k = elf(0, &len);

	expect_check(k, 40, -EINVAL, "truncated ELF");
	free(k);
}

Test(elf_loader, wrong_class)
{
	size_t len;
	uint8_t *k = elf(0, &len);

	k[EI_CLASS] = ELFCLASS32;
	expect_check(k, len, -EINVAL, "ELFCLASS64");
	free(k);
}

Test(elf_loader, big_endian)
{
	size_t len;
	uint8_t *k = elf(0, &len);

	k[EI_DATA] = ELFDATA2MSB;
	expect_check(k, len, -EINVAL, "little-endian");
	free(k);
}

Test(elf_loader, wrong_machine)
{
	size_t len;
	uint8_t *k = elf(0, &len);

	put16(k, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64);
	expect_check(k, len, -EINVAL, "not x86-64");
	free(k);
}

Test(elf_loader, not_executable)
{
	size_t len;
	uint8_t *k = elf(0, &len);

	put16(k, offsetof(Elf64_Ehdr, e_type), ET_DYN);
	expect_check(k, len, -EINVAL, "ET_EXEC");
	free(k);
}

Test(elf_loader, program_headers_beyond_file)
{
	size_t len;
	uint8_t *k = elf(0, &len);

	put64(k, offsetof(Elf64_Ehdr, e_phoff), len - 8);
	expect_check(k, len, -EINVAL, "program headers");
	put64(k, offsetof(Elf64_Ehdr, e_phoff), UINT64_MAX - 8);
	expect_check(k, len, -EINVAL, "program headers");
	free(k);
}

Test(elf_loader, segment_beyond_file)
{
	size_t len;
	uint8_t *k = elf(0, &len);

	expect_check(k, len - 1, -EINVAL, "truncated ELF: segment 1");
	put64(k, LOAD_FILESZ, UINT64_MAX);
	expect_check(k, len, -EINVAL, "runs past the end");
	free(k);
}

Test(elf_loader, filesz_above_memsz)
{
	size_t len;
	uint8_t *k = elf(0, &len);

	put64(k, LOAD_MEMSZ, FAKE_ELF_FILESZ - 1);
	expect_check(k, len, -EINVAL, "more file bytes");
	free(k);
}

Test(elf_loader, no_load_segment)
{
	size_t len;
	uint8_t *k = elf(0, &len);

	put32(k, fake_elf_phdr(1, 0), PT_NULL);
	expect_check(k, len, -EINVAL, "no PT_LOAD");
	free(k);
}

Test(elf_loader, pvh_note_found)
{
	size_t len;
	uint64_t entry = 0;
	uint8_t *k = elf(8, &len);

	cr_assert_eq(elf_loader_pvh_entry(k, len, &entry), 0);
	cr_assert_eq(entry, FAKE_ELF_PVH_ENTRY);
	free(k);
}

Test(elf_loader, pvh_note_32bit_desc)
{
	size_t len;
	uint64_t entry = 0;
	uint8_t *k = elf(4, &len);

	cr_assert_eq(elf_loader_pvh_entry(k, len, &entry), 0);
	cr_assert_eq(entry, FAKE_ELF_PVH_ENTRY);
	free(k);
}

Test(elf_loader, no_pvh_note)
{
	size_t len;
	uint64_t entry = 0;
	uint8_t *k = elf(0, &len);

	cr_assert_eq(elf_loader_pvh_entry(k, len, &entry), -ENOENT);
	free(k);
}

Test(elf_loader, malformed_note_is_ignored)
{
	size_t len;
	uint64_t entry = 0;
	uint8_t *k = elf(8, &len);

	put32(k, FAKE_ELF_NOTE_OFF, 0xfffffff0); /* namesz of the first note: past the segment */
	cr_assert_eq(elf_loader_pvh_entry(k, len, &entry), -ENOENT);
	free(k);
}

static uint8_t *mem_new(struct guest_mem *m)
{
	uint8_t *buf = calloc(1, MEM_SIZE);

	cr_assert_not_null(buf);
	guest_mem_wrap(m, buf, MEM_SIZE);
	return buf;
}

Test(elf_loader, loads_segments_and_zeroes_bss)
{
	struct elf_kernel ek;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m);
	size_t len, i;
	uint8_t *k = elf(8, &len);

	memset(mem + FAKE_ELF_PADDR, 0xcc, FAKE_ELF_MEMSZ);
	cr_assert_eq(elf_loader_load(&m, k, len, &ek, err, sizeof(err)), 0, "%s", err);
	for (i = 0; i < FAKE_ELF_FILESZ; i++)
		cr_assert_eq(mem[FAKE_ELF_PADDR + i], fake_payload_byte(i));
	for (; i < FAKE_ELF_MEMSZ; i++)
		cr_assert_eq(mem[FAKE_ELF_PADDR + i], 0);
	cr_assert_eq(ek.entry, FAKE_ELF_PADDR);
	cr_assert_eq(ek.pvh_entry, FAKE_ELF_PVH_ENTRY);
	cr_assert_eq(ek.start, FAKE_ELF_PADDR);
	cr_assert_eq(ek.end, FAKE_ELF_PADDR + FAKE_ELF_MEMSZ);
	free(k);
	free(mem);
}

Test(elf_loader, virtual_entry_is_translated)
{
	struct fake_elf_opts o = {.entry = FAKE_ELF_VADDR + 0x40};
	struct elf_kernel ek;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m);
	size_t len;
	uint8_t *k = fake_elf(&o, &len);

	cr_assert_eq(elf_loader_load(&m, k, len, &ek, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ek.entry, FAKE_ELF_PADDR + 0x40);
	cr_assert_eq(ek.pvh_entry, 0);
	free(k);
	free(mem);
}

Test(elf_loader, entry_outside_segments)
{
	struct fake_elf_opts o = {.entry = 0x500000};
	struct elf_kernel ek;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m);
	size_t len;
	uint8_t *k = fake_elf(&o, &len);

	cr_assert_eq(elf_loader_load(&m, k, len, &ek, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "entry point 0x500000"), "%s", err);
	free(k);
	free(mem);
}

Test(elf_loader, segment_in_boot_area)
{
	struct elf_kernel ek;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m);
	size_t len;
	uint8_t *k = elf(0, &len);

	put64(k, LOAD_PADDR, 0x90000);
	put64(k, offsetof(Elf64_Ehdr, e_entry), 0x90000);
	cr_assert_eq(elf_loader_load(&m, k, len, &ek, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "below 1 MiB"), "%s", err);
	free(k);
	free(mem);
}

Test(elf_loader, segment_beyond_ram)
{
	struct elf_kernel ek;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m);
	size_t len;
	uint8_t *k = elf(0, &len);

	put64(k, LOAD_PADDR, MEM_SIZE - 0x1000);
	put64(k, offsetof(Elf64_Ehdr, e_entry), MEM_SIZE - 0x1000);
	cr_assert_eq(elf_loader_load(&m, k, len, &ek, err, sizeof(err)), -E2BIG);
	cr_assert(strstr(err, "outside the guest's 64 MiB"), "%s", err);
	free(k);
	free(mem);
}

Test(elf_loader, pvh_entry_outside_kernel)
{
	struct elf_kernel ek;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m);
	size_t len;
	uint8_t *k = elf(8, &len);

	put64(k, LOAD_MEMSZ, 0x100); /* the PVH entry at +0x180 now lies past the segment */
	put64(k, LOAD_FILESZ, 0x100);
	cr_assert_eq(elf_loader_load(&m, k, len, &ek, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "PVH entry point"), "%s", err);
	free(k);
	free(mem);
}
