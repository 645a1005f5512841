/*
 * murmur2.h
 *		Kafka's default partitioner: murmur2 over the key's bytes.
 */
#ifndef EVENTLOG_MURMUR2_H
#define EVENTLOG_MURMUR2_H

/* Kafka's Utils.murmur2(): 32-bit murmur2 with seed 0x9747b28c. */
extern int32 el_murmur2(const char *data, int len);

/* (murmur2(key) & 0x7fffffff) % nparts, exactly as Kafka's DefaultPartitioner. */
extern int	el_partition_for_key(const char *key, int keylen, int nparts);

#endif							/* EVENTLOG_MURMUR2_H */
