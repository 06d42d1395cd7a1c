// WriteSecret is the deferred custom action that writes the enroll secret
// given as FLEET_SECRET at install time. CustomActionData is
// "<orbit root>\secret.txt|<secret>" ("|" cannot occur in a Windows path).
// The file is written as UTF-8 without a BOM, the way orbit reads it.
function WriteSecret() {
	var data = Session.Property("CustomActionData");
	var bar = data.indexOf("|");
	if (bar < 0) {
		return 3; // failure
	}
	var path = data.substring(0, bar);
	var secret = data.substring(bar + 1);
	try {
		writeADODB(path, secret);
	} catch (e) {
		writeFSO(path, secret); // where ADODB.Stream is missing (Wine)
	}
	return 1; // success
}

// writeADODB writes UTF-8 with ADODB.Stream, dropping the BOM it adds.
function writeADODB(path, secret) {
	var text = new ActiveXObject("ADODB.Stream");
	text.Type = 2; // text
	text.Charset = "utf-8";
	text.Open();
	text.WriteText(secret);
	text.Position = 3; // past the BOM
	var bin = new ActiveXObject("ADODB.Stream");
	bin.Type = 1; // binary
	bin.Open();
	text.CopyTo(bin);
	bin.SaveToFile(path, 2); // overwrite: the existing file keeps its ACL
	bin.Close();
	text.Close();
}

// writeFSO writes the UTF-8 bytes through a text file in the ANSI code page
// 1252, whose characters map one to one to bytes.
function writeFSO(path, secret) {
	var high = [0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D, 0x17D, 0x8F,
		0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178];
	var utf8 = unescape(encodeURIComponent(secret)); // one char per UTF-8 byte
	var out = "";
	for (var i = 0; i < utf8.length; i++) {
		var b = utf8.charCodeAt(i);
		out += String.fromCharCode(b >= 0x80 && b < 0xA0 ? high[b - 0x80] : b);
	}
	var fso = new ActiveXObject("Scripting.FileSystemObject");
	var f = fso.OpenTextFile(path, 2, true, 0); // for writing, create, ANSI
	f.Write(out);
	f.Close();
}
