// gSOAP interface of a RAD-69 Imaging Document Source, for
// tests/interop_gsoap_test.ts. soapcpp2 turns it into the serializers and
// the service skeleton; rad69_server.cpp implements the operation. Not
// shipped.
//
// No SOAP_ENV__Header is declared, so gSOAP understands no header and
// answers a mustUnderstand wsa:Action or wsa:To with a SOAP 1.2
// MustUnderstand Fault (a server that does not process WS-Addressing).

//gsoap iherad service name: rad69
//gsoap iherad service namespace: urn:ihe:rad:xdsi-b:2009
//gsoap iherad schema namespace: urn:ihe:rad:xdsi-b:2009
//gsoap iherad schema elementForm: qualified
//gsoap iherad schema attributeForm: unqualified
//gsoap xdsb schema namespace: urn:ihe:iti:xds-b:2007
//gsoap xdsb schema elementForm: qualified
//gsoap xdsb schema attributeForm: unqualified
//gsoap rs schema namespace: urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0
//gsoap rs schema elementForm: qualified
//gsoap rs schema attributeForm: unqualified
//gsoap iherad service method-style: RetrieveImagingDocumentSet document
//gsoap iherad service method-encoding: RetrieveImagingDocumentSet literal
//gsoap iherad service method-action: RetrieveImagingDocumentSet urn:ihe:rad:2009:RetrieveImagingDocumentSet

#import "soap12.h"
#import "xop.h"
#import "xmime5.h"
#import "stlvector.h"

class xdsb__DocumentRequest {
 public:
  std::string *xdsb__HomeCommunityId 0;
  std::string xdsb__RepositoryUniqueId 1;
  std::string xdsb__DocumentUniqueId 1;
};

class iherad__SeriesRequest {
 public:
  @std::string seriesInstanceUID 1;
  std::vector<xdsb__DocumentRequest> xdsb__DocumentRequest_ 1;
};

class iherad__StudyRequest {
 public:
  @std::string studyInstanceUID 1;
  std::vector<iherad__SeriesRequest> iherad__SeriesRequest_ 1;
};

class iherad__TransferSyntaxUIDList {
 public:
  std::vector<std::string> iherad__TransferSyntaxUID 1;
};

class iherad__RetrieveImagingDocumentSetRequest {
 public:
  std::vector<iherad__StudyRequest> iherad__StudyRequest_ 1;
  iherad__TransferSyntaxUIDList iherad__TransferSyntaxUIDList_ 1;
};

class rs__RegistryError {
 public:
  @std::string errorCode 1;
  @std::string codeContext 1;
  @std::string severity 1;
  @std::string location 0;
};

class rs__RegistryErrorList {
 public:
  std::vector<rs__RegistryError> rs__RegistryError_ 1;
};

class rs__RegistryResponse {
 public:
  @std::string status 1;
  rs__RegistryErrorList *rs__RegistryErrorList_ 0;
};

class xdsb__DocumentResponse {
 public:
  std::string xdsb__RepositoryUniqueId 1;
  std::string xdsb__DocumentUniqueId 1;
  std::string xdsb__mimeType 1;
  _xop__Include xdsb__Document 1;
};

class xdsb__RetrieveDocumentSetResponse {
 public:
  rs__RegistryResponse rs__RegistryResponse_ 1;
  std::vector<xdsb__DocumentResponse> xdsb__DocumentResponse_ 0;
};

int __iherad__RetrieveImagingDocumentSet(
    iherad__RetrieveImagingDocumentSetRequest
        *iherad__RetrieveImagingDocumentSetRequest_,
    xdsb__RetrieveDocumentSetResponse &xdsb__RetrieveDocumentSetResponse_);
