/*
 * kcrespond: a minimal broker side for capturing real clients' requests
 * (test/kafka/capture.py).  Reads request frames on stdin and writes a
 * response frame for each on stdout, encoded by the codec: ApiVersions
 * (our table), Metadata (one broker 127.0.0.1:PORT, each asked topic with
 * one partition), Produce (success at offset 0), ListOffsets (offset 0),
 * Fetch (no records), InitProducerId.  A request that gets no response
 * (Produce with acks 0) is answered by a 4-byte 0 so that the caller knows;
 * anything else ends the program.  A test tool, not the server.
 *
 *   kcrespond PORT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog/kafka/kcmsg.h"

static int
read_full(void *buf, size_t n)
{
	return fread(buf, 1, n, stdin) == n;
}

static kc_struct *
mirror(kc_arena *a, const kc_api *api, kc_request *req)
{
	kc_struct  *s = kc_new_struct(a, api->response);
	kc_struct  *b = req->body;

	switch (api->key)
	{
		case KC_API_METADATA:
			{
				kc_value   *br = kc_new_array(a, s, KCF_MetadataResponse_Brokers, 1);
				kc_array	rt = b->f[KCF_MetadataRequest_Topics].u.a;
				int32_t		n = rt.n > 0 ? rt.n : 1;
				kc_value   *t = kc_new_array(a, s, KCF_MetadataResponse_Topics, n);

				br[0].u.s->f[KCF_MetadataResponse_MetadataResponseBroker_NodeId].u.i = 1;
				br[0].u.s->f[KCF_MetadataResponse_MetadataResponseBroker_Host].u.b = kc_cstr("127.0.0.1");
				br[0].u.s->f[KCF_MetadataResponse_MetadataResponseBroker_Port].u.i = getenv("KC_PORT") ? atoi(getenv("KC_PORT")) : 9092;
				br[0].u.s->f[KCF_MetadataResponse_MetadataResponseBroker_Rack].u.b.len = -1;
				s->f[KCF_MetadataResponse_ClusterId].u.b = kc_cstr("kctest");
				s->f[KCF_MetadataResponse_ControllerId].u.i = 1;
				for (int32_t i = 0; i < n; i++)
				{
					kc_struct  *ts = t[i].u.s;
					kc_value   *p = kc_new_array(a, ts, KCF_MetadataResponse_MetadataResponseTopic_Partitions, 1);
					kc_struct  *ps = p[0].u.s;

					ts->f[KCF_MetadataResponse_MetadataResponseTopic_Name].u.b = rt.n > 0 ?
						rt.items[i].u.s->f[KCF_MetadataRequest_MetadataRequestTopic_Name].u.b :
						kc_cstr("kctest");
					memset(ts->f[KCF_MetadataResponse_MetadataResponseTopic_TopicId].u.uuid, 7, 16);
					ps->f[KCF_MetadataResponse_MetadataResponsePartition_LeaderId].u.i = 1;
					ps->f[KCF_MetadataResponse_MetadataResponsePartition_LeaderEpoch].u.i = 0;
					kc_new_array(a, ps, KCF_MetadataResponse_MetadataResponsePartition_ReplicaNodes, 1)[0].u.i = 1;
					kc_new_array(a, ps, KCF_MetadataResponse_MetadataResponsePartition_IsrNodes, 1)[0].u.i = 1;
				}
				break;
			}
		case KC_API_PRODUCE:
			{
				kc_array	td = b->f[KCF_ProduceRequest_TopicData].u.a;
				kc_value   *t = kc_new_array(a, s, KCF_ProduceResponse_Responses, td.n);

				for (int32_t i = 0; i < td.n; i++)
				{
					kc_struct  *rq = td.items[i].u.s;
					kc_array	pd = rq->f[KCF_ProduceRequest_TopicProduceData_PartitionData].u.a;
					kc_value   *p = kc_new_array(a, t[i].u.s, KCF_ProduceResponse_TopicProduceResponse_PartitionResponses, pd.n);

					t[i].u.s->f[KCF_ProduceResponse_TopicProduceResponse_Name].u.b =
						rq->f[KCF_ProduceRequest_TopicProduceData_Name].u.b;
					for (int32_t j = 0; j < pd.n; j++)
					{
						p[j].u.s->f[KCF_ProduceResponse_PartitionProduceResponse_Index].u.i =
							pd.items[j].u.s->f[KCF_ProduceRequest_PartitionProduceData_Index].u.i;
						p[j].u.s->f[KCF_ProduceResponse_PartitionProduceResponse_BaseOffset].u.i = 0;
					}
				}
				break;
			}
		case KC_API_LISTOFFSETS:
			{
				kc_array	td = b->f[KCF_ListOffsetsRequest_Topics].u.a;
				kc_value   *t = kc_new_array(a, s, KCF_ListOffsetsResponse_Topics, td.n);

				for (int32_t i = 0; i < td.n; i++)
				{
					kc_struct  *rq = td.items[i].u.s;
					kc_array	pd = rq->f[KCF_ListOffsetsRequest_ListOffsetsTopic_Partitions].u.a;
					kc_value   *p = kc_new_array(a, t[i].u.s, KCF_ListOffsetsResponse_ListOffsetsTopicResponse_Partitions, pd.n);

					t[i].u.s->f[KCF_ListOffsetsResponse_ListOffsetsTopicResponse_Name].u.b =
						rq->f[KCF_ListOffsetsRequest_ListOffsetsTopic_Name].u.b;
					for (int32_t j = 0; j < pd.n; j++)
					{
						p[j].u.s->f[KCF_ListOffsetsResponse_ListOffsetsPartitionResponse_PartitionIndex].u.i =
							pd.items[j].u.s->f[KCF_ListOffsetsRequest_ListOffsetsPartition_PartitionIndex].u.i;
						p[j].u.s->f[KCF_ListOffsetsResponse_ListOffsetsPartitionResponse_Offset].u.i = 0;
					}
				}
				break;
			}
		case KC_API_FETCH:
			{
				kc_array	td = b->f[KCF_FetchRequest_Topics].u.a;
				kc_value   *t = kc_new_array(a, s, KCF_FetchResponse_Responses, td.n);

				for (int32_t i = 0; i < td.n; i++)
				{
					kc_struct  *rq = td.items[i].u.s;
					kc_array	pd = rq->f[KCF_FetchRequest_FetchTopic_Partitions].u.a;
					kc_value   *p = kc_new_array(a, t[i].u.s, KCF_FetchResponse_FetchableTopicResponse_Partitions, pd.n);

					t[i].u.s->f[KCF_FetchResponse_FetchableTopicResponse_Topic].u.b =
						rq->f[KCF_FetchRequest_FetchTopic_Topic].u.b;
					memcpy(t[i].u.s->f[KCF_FetchResponse_FetchableTopicResponse_TopicId].u.uuid,
						   rq->f[KCF_FetchRequest_FetchTopic_TopicId].u.uuid, 16);
					for (int32_t j = 0; j < pd.n; j++)
					{
						p[j].u.s->f[KCF_FetchResponse_PartitionData_PartitionIndex].u.i =
							pd.items[j].u.s->f[KCF_FetchRequest_FetchPartition_Partition].u.i;
						p[j].u.s->f[KCF_FetchResponse_PartitionData_HighWatermark].u.i = 0;
						p[j].u.s->f[KCF_FetchResponse_PartitionData_LastStableOffset].u.i = 0;
						p[j].u.s->f[KCF_FetchResponse_PartitionData_Records].u.b = kc_cstr("");
					}
				}
				break;
			}
		case KC_API_SASLHANDSHAKE:
			{
				kc_value   *m = kc_new_array(a, s, KCF_SaslHandshakeResponse_Mechanisms, 2);

				m[0].u.b = kc_cstr("PLAIN");
				m[1].u.b = kc_cstr("SCRAM-SHA-256");
				break;
			}
		case KC_API_INITPRODUCERID:
			s->f[KCF_InitProducerIdResponse_ProducerId].u.i = 1000;
			s->f[KCF_InitProducerIdResponse_ProducerEpoch].u.i = 0;
			break;
		default:
			return NULL;
	}
	return s;
}

int
main(void)
{
	for (;;)
	{
		uint8_t		hdr[4];
		int32_t		size;
		uint8_t    *frame;
		kc_arena	a;
		kc_request	req;
		kc_err		e;
		kc_struct  *body = NULL;
		int16_t		version;
		uint8_t    *out;
		size_t		outlen;

		if (!read_full(hdr, 4))
			return 0;
		if (kc_frame_size(hdr, 4, 100 * 1024 * 1024, &size) != KC_OK)
			return 1;
		frame = malloc((size_t) size);
		if (frame == NULL || !read_full(frame, (size_t) size))
			return 1;
		kc_arena_init(&a, 256 * 1024 * 1024, NULL, NULL, NULL);
		e = kc_decode_request(frame, (size_t) size, &a, NULL, &req);
		version = req.api_version;
		if (e == KC_ERR_UNSUPPORTED_VERSION && req.api_key == KC_API_APIVERSIONS)
		{
			body = kc_apiversions_body(&a, KC_KAFKA_UNSUPPORTED_VERSION);
			version = 0;
		}
		else if (e != KC_OK)
		{
			fprintf(stderr, "kcrespond: api %d v%d: %s\n", req.api_key,
					req.api_version, kc_strerror(e));
			return 1;
		}
		else if (req.api_key == KC_API_APIVERSIONS)
			body = kc_apiversions_body(&a, 0);
		else if (req.api_key == KC_API_PRODUCE &&
				 req.body->f[KCF_ProduceRequest_Acks].u.i == 0)
		{
			static const uint8_t none[4];

			fwrite(none, 1, 4, stdout);
			fflush(stdout);
			kc_arena_release(&a);
			free(frame);
			continue;
		}
		else
			body = mirror(&a, req.api, &req);
		if (body == NULL)
			return 1;
		if ((e = kc_encode_response(&a, req.api_key, version, req.correlation_id,
									body, &out, &outlen)) != KC_OK)
		{
			fprintf(stderr, "kcrespond: encoding api %d v%d: %s\n", req.api_key,
					version, kc_strerror(e));
			return 1;
		}
		fwrite(out, 1, outlen, stdout);
		fflush(stdout);
		kc_arena_release(&a);
		free(frame);
	}
}
