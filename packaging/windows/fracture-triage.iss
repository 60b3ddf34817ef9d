; Inno Setup script for the Windows installer of Fracture Triage (per-user by default, no admin needed).
; Built by `python packaging\build.py --installer` after the PyInstaller build, which passes the name,
; version, icon and folders from the package metadata as /D defines; nothing here repeats them.
; By hand: iscc /DAppVersion=X.Y.Z /DSourceDir=dist\fracture-triage /DIconFile=... packaging\windows\fracture-triage.iss
; The app keeps its database and settings in %LOCALAPPDATA%\fracture-triage (platformdirs); the
; uninstaller leaves them there on purpose.

#ifndef AppName
  #define AppName "Fracture Triage"
#endif
#ifndef DistName
  #define DistName "fracture-triage"
#endif
#ifndef AppVersion
  #error AppVersion must be passed: iscc /DAppVersion=X.Y.Z (packaging\build.py does this)
#endif
#ifndef Publisher
  #define Publisher "Fracture Triage project"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\" + DistName
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif

[Setup]
AppId={{6C1E8E0B-6F2A-4C55-9B0E-3F1D2A7C9E41}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#Publisher}
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename={#DistName}-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\{#DistName}.exe
#ifdef IconFile
SetupIconFile={#IconFile}
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#DistName}.exe"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#DistName}.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\{#DistName}.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the installer put there; user data lives in %LOCALAPPDATA%\fracture-triage and stays.
Type: filesandordirs; Name: "{app}\_internal"
