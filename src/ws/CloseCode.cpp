#include "ws/CloseCode.h"

namespace sb::ws {

bool isValidReceivedCloseCode(uint16_t code) {
  if (code >= 1000 && code <= 1003) return true;   // §7.4.1 defined codes
  if (code >= 1007 && code <= 1014) return true;   // §7.4.1 1007-1011 + IANA 1012-1014
  if (code >= 3000 && code <= 4999) return true;   // §7.4.2 library / private ranges
  return false;                                    // 1004-1006, 1015, 1016-2999, <1000, >=5000
}

const char* closeCodeName(uint16_t code) {
  using namespace close_code;
  switch (code) {
    case Normal: return "normal";
    case GoingAway: return "going away";
    case ProtocolError: return "protocol error";
    case UnsupportedData: return "unsupported data";
    case Reserved1004: return "reserved";
    case NoStatus: return "no status";
    case Abnormal: return "abnormal closure";
    case InvalidPayload: return "invalid payload";
    case PolicyViolation: return "policy violation";
    case MessageTooBig: return "message too big";
    case MandatoryExtension: return "mandatory extension";
    case InternalError: return "internal error";
    case ServiceRestart: return "service restart";
    case TryAgainLater: return "try again later";
    case BadGateway: return "bad gateway";
    case TlsHandshake: return "TLS handshake failure";
    default: break;
  }
  if (code >= 3000 && code <= 3999) return "library code";
  if (code >= 4000 && code <= 4999) return "application code";
  return "invalid";
}

}  // namespace sb::ws
