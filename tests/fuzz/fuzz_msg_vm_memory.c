/*
 * libFuzzer target for the msg_vm_memory.h decoders: no input crashes them, and whatever they
 * accept encodes back to the very same bytes (one wire form per message). The first input byte is
 * the fd count the message is taken to have arrived with.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg_vm_memory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_memory_request req;
	struct vm_memory_response resp;
	uint8_t wire[MSG_MAX_SIZE];
	unsigned int nfds;
	size_t len;

	if (size < 1)
		return 0;
	nfds = data[0];
	data++;
	size--;
	if (msg_vm_memory_decode_request(data, size, nfds, &req) == 0) {
		if (msg_vm_memory_encode_request(&req, nfds, wire, sizeof(wire), &len) != 0 ||
		    len != size || memcmp(wire, data, len) != 0)
			abort();
	}
	if (msg_vm_memory_decode_response(data, size, nfds, &resp) == 0) {
		if (msg_vm_memory_encode_response(&resp, nfds, wire, sizeof(wire), &len) != 0 ||
		    len != size || memcmp(wire, data, len) != 0)
			abort();
	}
	return 0;
}
