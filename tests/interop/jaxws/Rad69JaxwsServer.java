// A RAD-69 Imaging Document Source on the JAX-WS reference implementation
// (Metro, Debian libjaxws-java), for the interop test in
// tests/interop_jaxws_test.ts. Compiled and run at test time; never shipped.
//
//   java Rad69JaxwsServer PORT DIR [--addressing] [--message]
//
// Publishes http://127.0.0.1:PORT/rad69 with the SOAP 1.2 MTOM binding. Each
// requested DocumentUniqueId is answered with DIR/<uid>.dcm as an MTOM
// attachment (xop:Include), or a RegistryError when the file is missing.
// With --addressing the endpoint gets the AddressingFeature (it processes
// the wsa: headers); without it, Metro does not understand them and
// answers mustUnderstand headers with a SOAP 1.2 MustUnderstand Fault.
// Two Provider endpoints, because Metro 2.3 (seen here) behaves differently
// in each service mode:
// - PAYLOAD (default): Metro does mustUnderstand processing, like an
//   SEI-based endpoint, so without --addressing it faults the client's
//   mustUnderstand wsa:Action and wsa:To. Attachments put in
//   OUTBOUND_MESSAGE_ATTACHMENTS are dropped from the answer, so the
//   Document goes inline as base64 (inside the MTOM package).
// - MESSAGE (--message): the SAAJ message carries each document as an
//   AttachmentPart referenced by xop:Include, so Metro writes real MTOM
//   attachment parts; but Metro skips mustUnderstand processing in this
//   mode, whatever the features.
// Prints "LISTENING <port>" on stdout once published.

import java.io.File;
import java.nio.file.Files;
import java.util.Base64;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.Source;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMResult;
import javax.xml.transform.dom.DOMSource;
import javax.xml.ws.BindingType;
import javax.xml.ws.Endpoint;
import javax.xml.ws.Provider;
import javax.xml.ws.Service;
import javax.xml.ws.ServiceMode;
import javax.xml.ws.WebServiceFeature;
import javax.xml.ws.WebServiceProvider;
import javax.xml.ws.soap.AddressingFeature;
import javax.xml.ws.soap.MTOMFeature;
import javax.xml.ws.soap.SOAPBinding;
import javax.xml.soap.AttachmentPart;
import javax.xml.soap.MessageFactory;
import javax.xml.soap.SOAPConstants;
import javax.xml.soap.SOAPElement;
import javax.xml.soap.SOAPMessage;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

@WebServiceProvider(serviceName = "ImagingDocumentSource", portName = "ImagingDocumentSource_Port_Soap12", targetNamespace = "urn:ihe:rad:xdsi-b:2009")
@ServiceMode(Service.Mode.PAYLOAD)
@BindingType(SOAPBinding.SOAP12HTTP_MTOM_BINDING)
public class Rad69JaxwsServer implements Provider<Source> {
  static final String XDSB = "urn:ihe:iti:xds-b:2007";
  static final String RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";
  static final String XOP = "http://www.w3.org/2004/08/xop/include";
  static File dir;

  public Source invoke(Source request) {
    try {
      DOMResult in = new DOMResult();
      TransformerFactory.newInstance().newTransformer().transform(request, in);
      Document req = (Document) in.getNode();
      NodeList reqs = req.getElementsByTagNameNS(XDSB, "DocumentRequest");
      DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
      dbf.setNamespaceAware(true);
      Document out = dbf.newDocumentBuilder().newDocument();
      Element resp = out.createElementNS(XDSB, "xdsb:RetrieveDocumentSetResponse");
      out.appendChild(resp);
      Element registry = out.createElementNS(RS, "rs:RegistryResponse");
      resp.appendChild(registry);
      Element errors = out.createElementNS(RS, "rs:RegistryErrorList");
      int found = 0, lost = 0;
      for (int i = 0; i < reqs.getLength(); i++) {
        Element doc = (Element) reqs.item(i);
        String repo = text(doc, "RepositoryUniqueId");
        String uid = text(doc, "DocumentUniqueId");
        File file = new File(dir, uid + ".dcm");
        if (!file.isFile()) {
          lost++;
          Element e = out.createElementNS(RS, "rs:RegistryError");
          e.setAttribute("errorCode", "XDSMissingDocument");
          e.setAttribute("codeContext", "No such document");
          e.setAttribute("location", uid);
          e.setAttribute("severity", "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error");
          errors.appendChild(e);
          continue;
        }
        found++;
        byte[] bytes = Files.readAllBytes(file.toPath());
        Element dr = out.createElementNS(XDSB, "xdsb:DocumentResponse");
        resp.appendChild(dr);
        leaf(out, dr, "RepositoryUniqueId", repo);
        leaf(out, dr, "DocumentUniqueId", uid);
        leaf(out, dr, "mimeType", "application/dicom");
        Element document = out.createElementNS(XDSB, "xdsb:Document");
        dr.appendChild(document);
        document.setTextContent(Base64.getEncoder().encodeToString(bytes));
      }
      registry.setAttribute("status", lost == 0
          ? "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
          : found == 0
          ? "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
          : "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess");
      if (lost > 0) registry.appendChild(errors);
      return new DOMSource(out);
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  /** The MESSAGE-mode endpoint: documents as MTOM attachment parts. */
  @WebServiceProvider(serviceName = "ImagingDocumentSource", portName = "ImagingDocumentSource_Port_Soap12", targetNamespace = "urn:ihe:rad:xdsi-b:2009")
  @ServiceMode(Service.Mode.MESSAGE)
  @BindingType(SOAPBinding.SOAP12HTTP_MTOM_BINDING)
  public static final class MessageMode implements Provider<SOAPMessage> {
    public SOAPMessage invoke(SOAPMessage request) {
      try {
        NodeList reqs = request.getSOAPBody().getElementsByTagNameNS(XDSB, "DocumentRequest");
        SOAPMessage out = MessageFactory.newInstance(SOAPConstants.SOAP_1_2_PROTOCOL).createMessage();
        SOAPElement resp = out.getSOAPBody().addChildElement("RetrieveDocumentSetResponse", "xdsb", XDSB);
        SOAPElement registry = resp.addChildElement("RegistryResponse", "rs", RS);
        SOAPElement errors = null;
        int found = 0, lost = 0;
        for (int i = 0; i < reqs.getLength(); i++) {
          Element doc = (Element) reqs.item(i);
          String uid = text(doc, "DocumentUniqueId");
          File file = new File(dir, uid + ".dcm");
          if (!file.isFile()) {
            lost++;
            if (errors == null) errors = registry.addChildElement("RegistryErrorList", "rs", RS);
            SOAPElement e = errors.addChildElement("RegistryError", "rs", RS);
            e.setAttribute("errorCode", "XDSMissingDocument");
            e.setAttribute("codeContext", "No such document");
            e.setAttribute("location", uid);
            e.setAttribute("severity", "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error");
            continue;
          }
          found++;
          SOAPElement dr = resp.addChildElement("DocumentResponse", "xdsb", XDSB);
          dr.addChildElement("RepositoryUniqueId", "xdsb", XDSB).addTextNode(text(doc, "RepositoryUniqueId"));
          dr.addChildElement("DocumentUniqueId", "xdsb", XDSB).addTextNode(uid);
          dr.addChildElement("mimeType", "xdsb", XDSB).addTextNode("application/dicom");
          String cid = "doc" + i + "." + uid + "@rad69.jaxws.test";
          dr.addChildElement("Document", "xdsb", XDSB).addChildElement("Include", "xop", XOP)
              .setAttribute("href", "cid:" + cid);
          AttachmentPart part = out.createAttachmentPart();
          byte[] bytes = Files.readAllBytes(file.toPath());
          part.setRawContentBytes(bytes, 0, bytes.length, "application/dicom");
          part.setContentId("<" + cid + ">");
          out.addAttachmentPart(part);
        }
        registry.setAttribute("status", lost == 0
            ? "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
            : found == 0
            ? "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
            : "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess");
        out.saveChanges();
        return out;
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    }
  }

  static void leaf(Document out, Element parent, String local, String value) {
    Element e = out.createElementNS(XDSB, "xdsb:" + local);
    e.setTextContent(value);
    parent.appendChild(e);
  }

  static String text(Element parent, String local) {
    NodeList l = parent.getElementsByTagNameNS(XDSB, local);
    return l.getLength() == 0 ? "" : l.item(0).getTextContent().trim();
  }

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    dir = new File(args[1]);
    boolean addressing = false;
    boolean message = false;
    for (int i = 2; i < args.length; i++) {
      if (args[i].equals("--addressing")) addressing = true;
      if (args[i].equals("--message")) message = true;
    }
    WebServiceFeature[] features = addressing
        ? new WebServiceFeature[] {new MTOMFeature(true), new AddressingFeature(true, true)}
        : new WebServiceFeature[] {new MTOMFeature(true)};
    Endpoint endpoint = Endpoint.create(SOAPBinding.SOAP12HTTP_MTOM_BINDING, message ? new MessageMode() : new Rad69JaxwsServer(), features);
    endpoint.publish("http://127.0.0.1:" + port + "/rad69");
    System.out.println("LISTENING " + port);
    System.out.flush();
    // Stop when the parent closes stdin.
    while (System.in.read() != -1) {}
    endpoint.stop();
    System.exit(0);
  }
}
