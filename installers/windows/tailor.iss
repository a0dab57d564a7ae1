; Tailor's Windows installer (Inno Setup 6): a per-user install with no administrator rights,
; made from the PyInstaller folder by installers\windows\build.ps1:
;
;   ISCC /DAppVersion=0.1.0 /DSourceDir=build\dist\tailor /DOutputDir=dist installers\windows\tailor.iss
;
; It installs into %LOCALAPPDATA%\Programs\Tailor, adds Tailor to the Start menu, registers .gguf
; files ("Open with Tailor" imports the model), and its uninstaller removes the app but never the
; workspace (%LOCALAPPDATA%\Tailor, platformdirs' user_data_dir("Tailor", appauthor=False)),
; which it names. Installing a newer version over an older one keeps the workspace too: the app
; migrates it when it opens.
;
; Signing: build.ps1 passes /DSign and a sign tool named "tailorsign" when TAILOR_SIGN_TOOL is
; set; by hand that is
;
;   ISCC /DSign "/Stailorsign=signtool.exe sign /fd sha256 /tr http://timestamp.digicert.com /td sha256 /a $f" ...
;
; which signs tailor.exe, tailor-cli.exe, the uninstaller and the installer itself. The same with
; a fixed tool (Tools > Configure Sign Tools in the Inno Setup IDE) is the line
; SignTool=signtool sign /fd sha256 /tr http://timestamp.digicert.com /td sha256 /a $f
;
; Written on Linux and never compiled by ISCC on Windows here: see the README.

#define AppName "Tailor"
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\build\dist\tailor"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#ifdef Sign
  #define SignFlag "sign"
#else
  #define SignFlag ""
#endif

[Setup]
; The AppId identifies the installation across versions (upgrades replace it in place): never
; change it.
AppId={{6B1F2C1E-3D4A-4E8B-9A57-2C0D9E7F4A13}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Tailor
AppComments=Customise an open LLM with your own data, on your own machine
; Per user, no administrator: %LOCALAPPDATA%\Programs\Tailor, the Start menu of this user,
; HKEY_CURRENT_USER for the file association.
PrivilegesRequired=lowest
DefaultDirName={localappdata}\Programs\{#AppName}
DisableDirPage=auto
DisableProgramGroupPage=yes
UsePreviousAppDir=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=tailor-{#AppVersion}-windows-x64-setup
SetupIconFile=tailor.ico
UninstallDisplayIcon={app}\tailor.exe
UninstallDisplayName={#AppName}
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
LZMAUseSeparateProcess=yes
; The .gguf association is new: tell Explorer.
ChangesAssociations=yes
; An open window holds files of the old version: ask to close it (Restart Manager).
CloseApplications=yes
RestartApplications=no
#ifdef Sign
SignTool=tailorsign
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the app's own files whole: nothing of an older version's Python packages
; may stay behind. (The workspace is elsewhere and is not touched.)
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\tailor.exe"; DestDir: "{app}"; Flags: ignoreversion {#SignFlag}
Source: "{#SourceDir}\tailor-cli.exe"; DestDir: "{app}"; Flags: ignoreversion {#SignFlag}
Source: "{#SourceDir}\*"; Excludes: "tailor.exe,tailor-cli.exe"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\tailor.exe"; IconFilename: "{app}\tailor.exe"; Comment: "Customise an open LLM with your own data"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\tailor.exe"; IconFilename: "{app}\tailor.exe"; Tasks: desktopicon

[Registry]
; .gguf files: "Open with Tailor" in Explorer, passing the file as "%1" (the launcher takes a
; path as a file to open: the window imports the model). HKA is HKEY_CURRENT_USER here
; (PrivilegesRequired=lowest): Software\Classes of this user.
Root: HKA; Subkey: "Software\Classes\.gguf"; ValueType: string; ValueName: ""; ValueData: "Tailor.GGUF"; Flags: createvalueifdoesntexist uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.gguf\OpenWithProgids"; ValueType: string; ValueName: "Tailor.GGUF"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\Tailor.GGUF"; ValueType: string; ValueName: ""; ValueData: "GGUF language model"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Tailor.GGUF\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\tailor.exe,0"
Root: HKA; Subkey: "Software\Classes\Tailor.GGUF\shell\open"; ValueType: string; ValueName: ""; ValueData: "Open with Tailor"
Root: HKA; Subkey: "Software\Classes\Tailor.GGUF\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\tailor.exe"" ""%1"""
; Listed in "Open with" for .gguf even where another program owns the extension.
Root: HKA; Subkey: "Software\Classes\Applications\tailor.exe"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\tailor.exe\SupportedTypes"; ValueType: string; ValueName: ".gguf"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\tailor.exe\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\tailor.exe"" ""%1"""

[Run]
Filename: "{app}\tailor.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only the app's own folder; the workspace (models, knowledge bases, adapters, conversations)
; and the training component stay where they are.
Type: filesandordirs; Name: "{app}\_internal"

[Code]
// The workspace's folder: platformdirs' user_data_dir("Tailor", appauthor=False), which is
// %LOCALAPPDATA%\Tailor (TAILOR_HOME moves it; then it is wherever that says).
function WorkspaceDir(): String;
begin
  Result := GetEnv('TAILOR_HOME');
  if Result = '' then
    Result := ExpandConstant('{localappdata}\{#AppName}');
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if (CurUninstallStep = usPostUninstall) and not UninstallSilent() then
    if DirExists(WorkspaceDir()) then
      MsgBox('Tailor was removed. Your workspace (models, knowledge bases, adapters, '
        + 'conversations) is kept in' + #13#10#13#10 + '    ' + WorkspaceDir() + #13#10#13#10
        + 'together with the training component, if it was installed (its "components" folder). '
        + 'Installing Tailor again opens it as it was; delete that folder to remove it.',
        mbInformation, MB_OK);
end;
