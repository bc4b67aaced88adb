"""Published payloads of each scheme, where they come from, and what they must decode to.

Every payload here was copied from a specification, an official SDK's documentation or a
well-known open-source implementation's tests, as `source` says; none was made by this codebase.
`expected` lists JSON keys of `earmark qr decode --json` and their values (a subset: the fields
that the source itself states).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sample:
    """One published payload and the decoded fields its source states."""

    name: str
    payload: str
    source: str
    expected: dict[str, object] = field(default_factory=dict)


BAKONG_PHP = "fidele007/bakong-khqr-php README (port of the bakong-khqr npm SDK)"
PROMPTPAY_QR = "dtinth/promptpay-qr index.test.js"
PROMPTPARSE = "maythiwat/promptparse src/index.test.ts"
PAYNET = ("PayNet developer portal, DuitNow QR Merchant-Presented Mode v1.5, "
          "QR generation specification, Examples")
NAPAS = "NAPAS VietQR specification test vectors (section 6.1), as verified in public tests"

SAMPLES: tuple[Sample, ...] = (
    Sample("khqr_individual_dynamic",
           "00020101021229180014jonhsmith@nbcq52045999530311654035005802KH5910Jonh Smith"
           "6010PHNOM PENH993400131742250594187011317422506541846304EA38",
           f"{BAKONG_PHP}, generateIndividual output",
           {"scheme": "khqr", "initiation": "dynamic", "currency": "KHR", "amount": "500.00",
            "merchant_name": "Jonh Smith", "merchant_city": "PHNOM PENH", "country": "KH",
            "mcc": "5999",
            "account": {"merchant_type": "individual", "bakong_account_id": "jonhsmith@nbcq",
                        "created_at_ms": "1742250594187", "expires_at_ms": "1742250654184"}}),
    Sample("khqr_merchant_static",
           "00020101021130400014jonhsmith@nbcq01061234560208Dev Bank5204599953031165802KH"
           "5910Jonh Smith6009Siem Reap621502118551234567863048C75",
           f"{BAKONG_PHP}, generateMerchant output",
           {"scheme": "khqr", "initiation": "static", "amount": None,
            "merchant_city": "Siem Reap",
            "account": {"merchant_type": "merchant", "bakong_account_id": "jonhsmith@nbcq",
                        "merchant_id": "123456", "acquiring_bank": "Dev Bank"},
            "additional": {"mobile_number": "85512345678"}}),
    Sample("khqr_decode_example",
           "00020101021229190015john_smith@devb52045999530311654065000.05802KH5910jonh smith"
           "6010Phnom Penh62360109#INV-20030313Coffee Klaing0702#2991700131613027972757"
           "63049ACF",
           f"{BAKONG_PHP}, decode example",
           {"scheme": "khqr", "amount": "5000.00", "amount_minor": 500000,
            "account": {"merchant_type": "individual", "bakong_account_id": "john_smith@devb",
                        "created_at_ms": "1613027972757"},
            "additional": {"bill_number": "#INV-2003", "store_label": "Coffee Klaing",
                           "terminal_label": "#2"}}),
    Sample("khqr_usd_deeplink",
           "00020101021229190015john_smith@devb5204599953038405405100.05802KH5910John Smith"
           "6010Phnom Penh993400131742249567316011317422496273166304B418",
           f"{BAKONG_PHP}, generateDeepLinkWithUrl example",
           {"scheme": "khqr", "currency": "USD", "amount": "100.00", "amount_minor": 10000}),
    Sample("promptpay_mobile",
           "00020101021129370016A000000677010111011300668012345675802TH530376463046197",
           f"{PROMPTPAY_QR}, 'Local phone number'",
           {"scheme": "promptpay", "initiation": "static", "currency": "THB", "country": "TH",
            "amount": None, "merchant_name": None,
            "account": {"service": "credit_transfer", "promptpay_mobile": "0066801234567"}}),
    Sample("promptpay_national_id",
           "00020101021129370016A000000677010111021311111111111115802TH530376463047B5A",
           f"{PROMPTPAY_QR}, 'National ID number'",
           {"scheme": "promptpay",
            "account": {"service": "credit_transfer",
                        "promptpay_national_id": "1111111111111"}}),
    Sample("promptpay_amount",
           "00020101021229370016A000000677010111011300660000000005802TH530376454044.226304E469",
           f"{PROMPTPAY_QR}, 'Amount'",
           {"scheme": "promptpay", "initiation": "dynamic", "amount": "4.22",
            "amount_minor": 422}),
    Sample("promptpay_ewallet",
           "00020101021129390016A000000677010111031514000080111111153037645802TH63047C0F",
           f"{PROMPTPARSE}, 'trueMoney without amount'",
           {"scheme": "promptpay",
            "account": {"service": "credit_transfer",
                        "promptpay_ewallet_id": "140000801111111"}}),
    Sample("promptpay_bill_payment",
           "00020101021230650016A00000067701011201150994000165501000212123456789012030667042953"
           "037645802TH54073649.2263044534",
           f"{PROMPTPARSE}, 'converts BOT Barcode with ref2 and amount'",
           {"scheme": "promptpay", "amount": "3649.22",
            "account": {"service": "bill_payment", "promptpay_biller_id": "099400016550100",
                        "promptpay_reference_1": "123456789012",
                        "promptpay_reference_2": "670429"}}),
    Sample("duitnow_retail",
           "00020201021126410014A000000615000101065016640209123456789520499995303458540510.00"
           "5802MY5909QRCSDNBHD6005BANGI6304343F",
           f"{PAYNET}, Example 1 (retail payment POS)",
           {"scheme": "duitnow", "initiation": "static", "currency": "MYR", "amount": "10.00",
            "mcc": "9999", "merchant_name": "QRCSDNBHD", "merchant_city": "BANGI",
            "format_indicator": "02",
            "account": {"duitnow_acquirer_id": "501664", "duitnow_qr_id": "123456789"}}),
    Sample("duitnow_p2p",
           "00020201021126410014A000000615000101065016640209123456789520400005303458540510.00"
           "5802MY5909AUSERNAME6005BANGI63043A23",
           f"{PAYNET}, Example 2 (P2P)",
           {"scheme": "duitnow", "mcc": "0000", "merchant_name": "AUSERNAME"}),
    Sample("vietqr_static_card",
           "00020101021138600010A00000072701300006970403011697040311012345670208QRIBFTTC5303704"
           "5802VN63044F52",
           f"{NAPAS}, 6.1.2 static QR to card",
           {"scheme": "vietqr", "initiation": "static", "currency": "VND", "country": "VN",
            "account": {"napas_bin": "970403", "card_number": "9704031101234567",
                        "service_code": "QRIBFTTC"}}),
    Sample("vietqr_dynamic_account",
           "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA5303704"
           "54061800005802VN62340107NPS68690819thanh toan don hang63042E2E",
           f"{NAPAS}, 6.1.3 dynamic QR to account",
           {"scheme": "vietqr", "initiation": "dynamic", "amount": "180000",
            "amount_minor": 180000,
            "account": {"napas_bin": "970403", "account_number": "0011012345678",
                        "service_code": "QRIBFTTA"},
            "additional": {"bill_number": "NPS6869",
                           "purpose_of_transaction": "thanh toan don hang"}}),
    Sample("vietqr_dynamic_card",
           "00020101021238600010A00000072701300006970403011697040311012345670208QRIBFTTC5303704"
           "54061800005802VN62340107NPS68690819thanh toan don hang6304A203",
           f"{NAPAS}, 6.1.4 dynamic QR to card",
           {"scheme": "vietqr", "account": {"napas_bin": "970403",
                                            "card_number": "9704031101234567",
                                            "service_code": "QRIBFTTC"}}),
    Sample("vietqr_subiz",
           "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA5303704"
           "54061200005802VN62170813ung ho lu lut6304C15C",
           "subiz/vietqr README (Generate(120000, \"970415\", \"0011001932418\", …))",
           {"scheme": "vietqr", "amount": "120000",
            "account": {"napas_bin": "970415", "account_number": "0011001932418",
                        "service_code": "QRIBFTTA"},
            "additional": {"purpose_of_transaction": "ung ho lu lut"}}),
    Sample("sgqr_printed_label",
           "00020101021126430009SG.PAYNOW010120210T04SS0129D030110502QS51810007SG.SGQR0112210730"
           "31741D020701.000103066003160402010503279060400000708202107305204000053037025802SG"
           "5925LOVING HEART MULTI-SERVIC6009Singapore6304A177",
           "poonchuanan/Python-PayNow-QR-Code-Generator README (a printed SGQR label, scanned)",
           {"scheme": "sgqr", "currency": "SGD", "mcc": "0000",
            "merchant_name": "LOVING HEART MULTI-SERVIC", "merchant_city": "Singapore",
            "account": {"paynow_proxy_type": "uen", "paynow_proxy_value": "T04SS0129D",
                        "paynow_amount_editable": "true", "sgqr_id": "21073031741D"}}),
    Sample("sgqr_paynow_uen_expiry",
           "00020101021126490009SG.PAYNOW010120210201403121W030110408203012315204000053037025802"
           "SG5913ACME Pte Ltd.6009Singapore6304B69E",
           "ThunderQuoteTeam/PaynowQR README inputs (UEN 201403121W, ACME Pte Ltd., editable, "
           "expiry) as pinned in a public QR rendering test",
           {"scheme": "sgqr", "merchant_name": "ACME Pte Ltd.",
            "account": {"paynow_proxy_type": "uen", "paynow_proxy_value": "201403121W",
                        "paynow_amount_editable": "true", "paynow_expiry": "20301231"}}),
    Sample("emv_specification",
           "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441"
           "115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502"
           "016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A",
           "EMVCo QR Code Specification for Payment Systems, Merchant-Presented Mode, the "
           "specification's example payload (CRC A13A)",
           {"scheme": "emv", "initiation": "dynamic", "currency": "CNY", "amount": "23.72",
            "mcc": "4111", "merchant_name": "BEST TRANSPORT", "merchant_city": "BEIJING",
            "country": "CN", "tip": {"kind": "prompt", "fee": None},
            "language": {"language_preference": "ZH",
                         "merchant_name_alternate_language": "最佳运输",
                         "merchant_city_alternate_language": "北京"},
            "account": {"29.00": "D15600000000", "29.05": "A93FO3230Q",
                        "31.00": "D15600000001", "31.03": "12345678"},
            "additional": {"store_label": "1234", "customer_label": "***",
                           "terminal_label": "A6008667",
                           "additional_consumer_data_request": "ME"}}),
    Sample("emv_unionpay_hong_kong",
           "000201010211153125000344000203441000000000000065204597253033445802HK5913Test Merchant"
           "6002HK626001200000000000000000000005200000000000000000000007080000001063045855",
           "UnionPay International QR test platform example, quoted in a CSDN article on the "
           "EMVCo CRC (blog.csdn.net/sunhuansheng/article/details/105630908)",
           {"scheme": "emv", "initiation": "static", "currency": "HKD", "mcc": "5972",
            "account": {"15": "2500034400020344100000000000006"}}),
)

# Published payloads that break the EMVCo format, and where the decoder must say so.
MALFORMED: tuple[tuple[Sample, str, int, str], ...] = (
    (Sample("napas_611_length_typo",
            "00020101021138570010A00000072701270006970403011200110123456780208QRIBFTTA5303704"
            "5802VN6304F4E5",
            f"{NAPAS}, 6.1.1: the account 0011012345678 has 13 characters but its length says 12"),
     "Q0103", 60, "38.01"),
    (Sample("thai_byte_lengths",
            "00020101021129370016A0000006770101110113006681222333353037645802TH5927ร้านทดสอบ6021"
            "กรุงเทพ630488F4",
            f"{PROMPTPARSE}, 'strict mode with UTF-8 merchant fields': lengths count UTF-8 bytes "
            "(27 for nine Thai characters) where EMVCo counts characters"),
     "Q0103", 97, ""),
)
