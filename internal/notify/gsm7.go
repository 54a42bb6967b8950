package notify

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// gsm7Basic is the GSM 03.38 default alphabet without its control
// characters (LF, CR, ESC) and without the extension table, whose characters
// ([ ] { } ~ ^ | \ €) cost two septets each. A text made only of these fits
// 160 characters in one SMS; a single other character switches the whole
// message to UCS-2 and cuts the limit to 70.
const gsm7Basic = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// isGSM7 reports whether r is in the basic GSM-7 set (one septet).
func isGSM7(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= ' ' && r <= 'z' && r != '[' && r != '\\' && r != ']' && r != '^' && r != '`'
	}
	return strings.ContainsRune(gsm7Basic, r)
}

// isGSM7String reports whether every character of s is in the basic set.
func isGSM7String(s string) bool {
	for _, r := range s {
		if !isGSM7(r) {
			return false
		}
	}
	return true
}

// toGSM7 rewrites s into the basic GSM-7 set on one line: typographic
// punctuation and accented letters become their plain forms, white space
// becomes one space, and anything else (emoji, other scripts, control
// characters) is dropped.
func toGSM7(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		var t string
		switch {
		case isGSM7(r):
			t = string(r)
		case unicode.IsSpace(r):
			t = " "
		default:
			t = gsm7Substitute(r)
		}
		for _, c := range t {
			if c == ' ' {
				space = b.Len() > 0
				continue
			}
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(c)
		}
	}
	return b.String()
}

// gsm7Substitute is the basic-set stand-in for r, or "" to drop it.
func gsm7Substitute(r rune) string {
	switch r {
	case '‘', '’', '‚', '‛', '′', '`', '´':
		return "'"
	case '“', '”', '„', '‟', '″', '«', '»':
		return `"`
	case '‐', '‑', '‒', '–', '—', '―', '−', '~':
		return "-"
	case '…':
		return "..."
	case '•', '·', '∙':
		return "*"
	case '[', '{', '⟨':
		return "("
	case ']', '}', '⟩':
		return ")"
	case '|', '\\':
		return "/"
	case '€':
		return "EUR"
	case '×':
		return "x"
	case '→':
		return "->"
	case '≥':
		return ">="
	case '≤':
		return "<="
	case '±':
		return "+/-"
	case 'µ', 'μ':
		return "u"
	case 'á', 'â', 'ã', 'ā', 'ą', 'ă':
		return "a"
	case 'Á', 'À', 'Â', 'Ã', 'Ā', 'Ą', 'Ă':
		return "A"
	case 'ç', 'ć', 'č':
		return "c"
	case 'Ć', 'Č':
		return "C"
	case 'ď', 'đ':
		return "d"
	case 'Ď', 'Đ':
		return "D"
	case 'ê', 'ë', 'ē', 'ę', 'ě':
		return "e"
	case 'È', 'Ê', 'Ë', 'Ē', 'Ę', 'Ě':
		return "E"
	case 'í', 'î', 'ï', 'ī', 'ı':
		return "i"
	case 'Í', 'Ì', 'Î', 'Ï', 'Ī', 'İ':
		return "I"
	case 'ł', 'ľ', 'ĺ':
		return "l"
	case 'Ł', 'Ľ', 'Ĺ':
		return "L"
	case 'ń', 'ň':
		return "n"
	case 'Ń', 'Ň':
		return "N"
	case 'ó', 'ô', 'õ', 'ō', 'ő':
		return "o"
	case 'Ó', 'Ò', 'Ô', 'Õ', 'Ō', 'Ő':
		return "O"
	case 'ř', 'ŕ':
		return "r"
	case 'Ř', 'Ŕ':
		return "R"
	case 'ś', 'š', 'ş', 'ș':
		return "s"
	case 'Ś', 'Š', 'Ş', 'Ș':
		return "S"
	case 'ť', 'ţ', 'ț':
		return "t"
	case 'Ť', 'Ţ', 'Ț':
		return "T"
	case 'ú', 'û', 'ū', 'ů', 'ű', 'ų':
		return "u"
	case 'Ú', 'Ù', 'Û', 'Ū', 'Ů', 'Ű', 'Ų':
		return "U"
	case 'ý', 'ÿ':
		return "y"
	case 'Ý', 'Ÿ':
		return "Y"
	case 'ź', 'ż', 'ž':
		return "z"
	case 'Ź', 'Ż', 'Ž':
		return "Z"
	case 'œ':
		return "oe"
	case 'Œ':
		return "OE"
	}
	return ""
}
