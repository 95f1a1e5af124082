// A RAD-69 client on the JAX-WS reference implementation (Metro, Debian
// libjaxws-java), for tests/interop_jaxws_test.ts: checks that the fake
// server accepts what a real SOAP stack sends. Compiled and run at test
// time; never shipped.
//
//   java Rad69JaxwsClient URL REQUEST_BODY_XML_FILE [--no-mtom] [--no-addressing]
//
// Sends the Body element of the given file through a Dispatch<Source>
// (PAYLOAD mode) on the SOAP 1.2 binding, with MTOM and WS-Addressing
// enabled unless told otherwise, so Metro writes the envelope, the
// WS-Addressing headers and the MIME framing itself. Prints "OK <n>" with
// the number of DocumentResponse elements, or "FAULT <code>: <reason>".

import java.io.File;
import javax.xml.namespace.QName;
import javax.xml.transform.Source;
import javax.xml.transform.dom.DOMResult;
import javax.xml.transform.stream.StreamSource;
import javax.xml.transform.TransformerFactory;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.Dispatch;
import javax.xml.ws.Service;
import javax.xml.ws.WebServiceFeature;
import javax.xml.ws.soap.AddressingFeature;
import javax.xml.ws.soap.MTOMFeature;
import javax.xml.ws.soap.SOAPBinding;
import javax.xml.ws.soap.SOAPFaultException;
import org.w3c.dom.Document;

public class Rad69JaxwsClient {
  public static void main(String[] args) throws Exception {
    String url = args[0];
    File body = new File(args[1]);
    boolean mtom = true, addressing = true;
    for (int i = 2; i < args.length; i++) {
      if (args[i].equals("--no-mtom")) mtom = false;
      if (args[i].equals("--no-addressing")) addressing = false;
    }
    QName service = new QName("urn:ihe:rad:xdsi-b:2009", "ImagingDocumentSource");
    QName port = new QName("urn:ihe:rad:xdsi-b:2009", "ImagingDocumentSource_Port_Soap12");
    Service s = Service.create(service);
    s.addPort(port, SOAPBinding.SOAP12HTTP_BINDING, url);
    WebServiceFeature[] features = {new MTOMFeature(mtom), new AddressingFeature(addressing)};
    Dispatch<Source> dispatch = s.createDispatch(port, Source.class, Service.Mode.PAYLOAD, features);
    dispatch.getRequestContext().put(BindingProvider.SOAPACTION_USE_PROPERTY, true);
    dispatch.getRequestContext().put(BindingProvider.SOAPACTION_URI_PROPERTY,
        "urn:ihe:rad:2009:RetrieveImagingDocumentSet");
    try {
      Source answer = dispatch.invoke(new StreamSource(body));
      DOMResult dom = new DOMResult();
      TransformerFactory.newInstance().newTransformer().transform(answer, dom);
      int n = ((Document) dom.getNode())
          .getElementsByTagNameNS("urn:ihe:iti:xds-b:2007", "DocumentResponse").getLength();
      System.out.println("OK " + n);
    } catch (SOAPFaultException e) {
      System.out.println("FAULT " + e.getFault().getFaultCodeAsQName().getLocalPart() + ": " + e.getFault().getFaultString());
    }
  }
}
