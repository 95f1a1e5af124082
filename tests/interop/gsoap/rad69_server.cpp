// A RAD-69 Imaging Document Source on gSOAP with MTOM attachments, for
// tests/interop_gsoap_test.ts. Built with soapcpp2 + g++ at test time; not
// shipped.
//
//   rad69_gsoap serve DIR       listens on 127.0.0.1, an ephemeral port;
//                               prints "LISTENING <port>"; answers each
//                               DocumentUniqueId with DIR/<uid>.dcm as an
//                               MTOM attachment whose Content-ID gSOAP
//                               chooses, or XDSMissingDocument
//   rad69_gsoap call URL        sends one MTOM RAD-69 request for the
//                               DocumentUniqueIds read from stdin (one
//                               "study series instance" line each) and
//                               prints "OK <n>" or "FAULT <code>: <reason>"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "soapH.h"
#include "rad69.nsmap"

static std::string dir;

int __iherad__RetrieveImagingDocumentSet(
    struct soap *soap, iherad__RetrieveImagingDocumentSetRequest *request,
    xdsb__RetrieveDocumentSetResponse &response) {
  int found = 0, lost = 0;
  for (auto &study : request->iherad__StudyRequest_) {
    for (auto &series : study.iherad__SeriesRequest_) {
      for (auto &doc : series.xdsb__DocumentRequest_) {
        std::ifstream in(dir + "/" + doc.xdsb__DocumentUniqueId + ".dcm",
                         std::ios::binary);
        if (!in) {
          lost++;
          if (!response.rs__RegistryResponse_.rs__RegistryErrorList_) {
            response.rs__RegistryResponse_.rs__RegistryErrorList_ =
                soap_new_rs__RegistryErrorList(soap);
          }
          rs__RegistryError e;
          e.errorCode = "XDSMissingDocument";
          e.codeContext = "No such document";
          e.severity = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error";
          e.location = doc.xdsb__DocumentUniqueId;
          response.rs__RegistryResponse_.rs__RegistryErrorList_->rs__RegistryError_
              .push_back(e);
          continue;
        }
        found++;
        std::stringstream buffer;
        buffer << in.rdbuf();
        std::string bytes = buffer.str();
        xdsb__DocumentResponse r;
        r.xdsb__RepositoryUniqueId = doc.xdsb__RepositoryUniqueId;
        r.xdsb__DocumentUniqueId = doc.xdsb__DocumentUniqueId;
        r.xdsb__mimeType = "application/dicom";
        r.xdsb__Document.__ptr = (unsigned char *)soap_malloc(soap, bytes.size());
        memcpy(r.xdsb__Document.__ptr, bytes.data(), bytes.size());
        r.xdsb__Document.__size = (int)bytes.size();
        r.xdsb__Document.id = NULL;  // gSOAP picks the Content-ID
        r.xdsb__Document.type = soap_strdup(soap, "application/dicom");
        r.xdsb__Document.options = NULL;
        response.xdsb__DocumentResponse_.push_back(r);
      }
    }
  }
  response.rs__RegistryResponse_.status =
      lost == 0 ? "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
      : found == 0
          ? "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
          : "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess";
  return SOAP_OK;
}

static int serve() {
  struct soap *soap = soap_new1(SOAP_IO_KEEPALIVE);
  soap_set_omode(soap, SOAP_ENC_MTOM);
  soap->bind_flags = SO_REUSEADDR;
  if (!soap_valid_socket(soap_bind(soap, "127.0.0.1", 0, 16))) {
    soap_print_fault(soap, stderr);
    return 1;
  }
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  getsockname(soap->master, (struct sockaddr *)&addr, &len);
  std::printf("LISTENING %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  for (;;) {
    if (!soap_valid_socket(soap_accept(soap))) continue;
    soap_serve(soap);
    soap_destroy(soap);
    soap_end(soap);
  }
}

static int call(const char *url) {
  struct soap *soap = soap_new();
  soap_set_omode(soap, SOAP_ENC_MTOM);
  iherad__RetrieveImagingDocumentSetRequest request;
  iherad__StudyRequest study;
  iherad__SeriesRequest series;
  std::string s, se, uid;
  while (std::cin >> s >> se >> uid) {
    study.studyInstanceUID = s;
    series.seriesInstanceUID = se;
    xdsb__DocumentRequest d;
    d.xdsb__RepositoryUniqueId = "1.3.6.1.4.1000";
    d.xdsb__DocumentUniqueId = uid;
    series.xdsb__DocumentRequest_.push_back(d);
  }
  study.iherad__SeriesRequest_.push_back(series);
  request.iherad__StudyRequest_.push_back(study);
  request.iherad__TransferSyntaxUIDList_.iherad__TransferSyntaxUID.push_back(
      "1.2.840.10008.1.2.1");
  xdsb__RetrieveDocumentSetResponse response;
  if (soap_call___iherad__RetrieveImagingDocumentSet(soap, url, NULL, &request,
                                                     response) != SOAP_OK) {
    const char **code = soap_faultcode(soap);
    const char **reason = soap_faultstring(soap);
    std::printf("FAULT %s: %s\n", code && *code ? *code : "?",
                reason && *reason ? *reason : "?");
    return 0;
  }
  std::printf("OK %zu\n", response.xdsb__DocumentResponse_.size());
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && std::string(argv[1]) == "serve") {
    dir = argv[2];
    return serve();
  }
  if (argc >= 3 && std::string(argv[1]) == "call") return call(argv[2]);
  std::fprintf(stderr, "usage: rad69_gsoap serve DIR | call URL\n");
  return 2;
}
