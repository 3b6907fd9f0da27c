/*
 * virtio-net's wire (virtio 1.2, 5.1): feature bits and the vnet header, as devices/net.c speaks
 * them and the harness tests check them. Only what the device implements, plus the UFO bits it
 * never offers (named so that a test can say so).
 */
#ifndef VMM_DEVICES_NET_H
#define VMM_DEVICES_NET_H

#include <stdint.h>

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10 /* not offered: Linux's tap ignores TUN_F_UFO */
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14 /* not offered */
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1
#define NET_F(bit) (1ULL << (bit))

/* The vnet header (5.1.6): flags and gso types. */
#define NET_HDR_F_NEEDS_CSUM 1
#define NET_HDR_F_DATA_VALID 2
#define NET_GSO_NONE 0
#define NET_GSO_TCPV4 1
#define NET_GSO_UDP 3 /* UFO: never negotiated */
#define NET_GSO_TCPV6 4
#define NET_GSO_ECN 0x80

#define NET_HDR_LEN 12	       /* struct virtio_net_hdr_mrg_rxbuf */
#define NET_HDR_NUM_BUFFERS 10 /* offset of le16 num_buffers */

/*
 * struct virtio_net_hdr_mrg_rxbuf as it sits in guest memory and on the tap (little endian;
 * the tap's 10-byte struct virtio_net_hdr is its start).
 */
struct net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct net_hdr) == NET_HDR_LEN, "virtio_net_hdr_mrg_rxbuf is 12 bytes");

#endif
