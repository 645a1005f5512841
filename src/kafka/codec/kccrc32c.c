/*
 * kccrc32c.c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of RecordBatch v2, computed bytewise from a table built on first
 * use.  The same function as PostgreSQL's pg_crc32c, which the server layer
 * may use instead; this one keeps the codec free of PostgreSQL.
 */
#include "eventlog/kafka/kcbatch.h"

static uint32_t crc_table[256];
static int	crc_ready;

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++)
	{
		uint32_t	c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
	crc_ready = 1;
}

uint32_t
kc_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (!crc_ready)
		crc_init();
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	return ~crc;
}
